"""The shared least-recently-used cache (garment_search.lru)."""

from garment_search.lru import LruCache


def test_a_value_is_made_once_and_the_least_recently_used_goes_first():
    made = []
    cache: LruCache[str, str] = LruCache(2)
    make = lambda key: made.append(key) or key.upper()  # noqa: E731
    assert [cache.get(k, make) for k in ("a", "b", "a", "c", "b", "a")] == ["A", "B", "A", "C", "B", "A"]
    # "a" read again after "b", so "c" evicts "b"; then "b" evicts "a"
    assert made == ["a", "b", "c", "b", "a"] and len(cache) == 2


def test_a_smaller_size_takes_effect_at_the_next_insert():
    cache: LruCache[int, int] = LruCache(10)
    for k in range(5):
        cache.get(k, lambda v: v)
    cache.size = 2
    cache.get(9, lambda v: v)
    assert len(cache) == 2
