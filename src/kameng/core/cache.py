"""Django's Redis cache, reusing one client per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` object for every operation; redis-py 8
fills ~170 response callbacks in each constructor, which the purchase profile showed at ~500 dict
writes per request. A client is thread-safe (its pool hands out connections), so one per pool does.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(index))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
