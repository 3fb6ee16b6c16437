"""Locust users for bench/load.py: remove_bg on locally served sample photos, search with varied queries.

Hosts come from the environment set by bench/load.py (LOAD_REMOVE_BG, LOAD_SEARCH, LOAD_PHOTOS, LOAD_QUERIES).
"""

from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, constant, task


class RemoveBgUser(FastHttpUser):
    host = os.environ.get("LOAD_REMOVE_BG", "http://127.0.0.1:5000")
    wait_time = constant(0)
    photos = json.loads(os.environ.get("LOAD_PHOTOS", "[]"))

    @task
    def remove_bg(self) -> None:
        with self.client.post("/", json={"url": random.choice(self.photos)}, name="remove_bg",
                              catch_response=True) as resp:
            if resp.status_code != 200 or resp.headers.get("content-type") != "image/jpeg":
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")


class SearchUser(FastHttpUser):
    host = os.environ.get("LOAD_SEARCH", "http://127.0.0.1:5001")
    wait_time = constant(0)
    queries = json.loads(os.environ.get("LOAD_QUERIES", '["tunic"]'))

    @task
    def search(self) -> None:
        text = f"{random.choice(self.queries)} {random.randint(0, 10_000)}"  # mostly new queries: no cache hits
        with self.client.post("/", json={"text": text, "n": 5}, name="search", catch_response=True) as resp:
            if resp.status_code != 200 or len(resp.json()) != 5:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
