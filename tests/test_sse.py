"""The SSE splitter keeps every event's exact bytes, whatever the chunk boundaries."""

from aibridge.relay.sse import SSESplitter

STREAM = (
    b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
    b": a comment\n\n"
    b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    b"data: line one\ndata: line two\n\n"
)


def split(chunks):
    splitter = SSESplitter()
    events = [e for chunk in chunks for e in splitter.feed(chunk)]
    tail = splitter.flush()
    return events + ([tail] if tail else [])


def test_events_keep_their_bytes_across_every_chunking():
    whole = [e.raw for e in split([STREAM])]
    assert b"".join(whole) == STREAM and len(whole) == 4
    for size in (1, 2, 3, 7, 50):
        chunks = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
        assert [e.raw for e in split(chunks)] == whole


def test_fields_are_parsed_lazily():
    events = split([STREAM])
    assert (events[0].name, events[0].data) == ("message_start", b'{"type":"message_start"}')
    assert events[3].name == "" and events[3].data == b"line one\nline two"


def test_crlf_events_and_unterminated_tail():
    stream = b"event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2"
    events = split([stream])
    assert [e.raw for e in events] == [b"event: a\r\ndata: 1\r\n\r\n", b"event: b\r\ndata: 2"]
    assert events[1].data == b"2"
