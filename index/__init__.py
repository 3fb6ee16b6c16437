"""Index builder (``python -m index.build``) and shard merger (``python -m index.merge``)."""
