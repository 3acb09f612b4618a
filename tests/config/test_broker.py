"""The broker transport: kombu's Redis transport, publishing through one kept client."""

import pytest
from kombu import Connection

pytestmark = pytest.mark.services


def test_messages_go_through_one_kept_client_and_arrive_in_order(redis_url):
    with Connection(redis_url, transport="config.broker:Transport") as connection:
        queue = connection.SimpleQueue("broker-transport-test")
        queue.clear()
        channel = queue.channel
        clients = []
        original = channel._create_client

        def noted(asynchronous=False):
            client = original(asynchronous=asynchronous)
            clients.append(client)
            return client

        channel._create_client = noted
        try:
            for number in range(3):
                queue.put({"number": number})
            received = [queue.get(timeout=5) for _ in range(3)]
            assert [m.payload["number"] for m in received] == [0, 1, 2]
            for message in received:
                message.ack()
        finally:
            queue.clear()
            queue.close()

    assert len(clients) >= 3 and len({id(client) for client in clients}) == 1


def test_a_new_connection_pool_gets_a_new_client(redis_url):
    with Connection(redis_url, transport="config.broker:Transport") as connection:
        channel = connection.default_channel
        first = channel._create_client()
        channel._pool = None  # as kombu does when it drops its connections

        assert channel._create_client() is not first
        assert channel._create_client() is channel._create_client()
