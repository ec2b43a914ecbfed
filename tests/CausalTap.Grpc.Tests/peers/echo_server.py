#!/usr/bin/python3
"""Independent gRPC peer for the CausalTap client tests (Python grpcio, no codegen).

Serves service "causaltap.test.Echo" on 127.0.0.1 with an ephemeral port, prints the port on the first
stdout line, and runs until stdin closes or it is killed. Messages are protobuf wrapper types.
"""
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import wrappers_pb2 as w

SERVICE = "causaltap.test.Echo"
CODES = {c.value[0]: c for c in grpc.StatusCode}

# token -> Event set when a call carrying that token was cancelled by its client.
_cancelled = {}
_lock = threading.Lock()


def _event(token):
    with _lock:
        return _cancelled.setdefault(token, threading.Event())


def echo(req, ctx):
    return w.StringValue(value=req.value)


def fail(req, ctx):
    # "code|message": ends the call with that status and detail (detail may be unicode).
    code, _, message = req.value.partition("|")
    ctx.set_trailing_metadata((("x-fail-trailer", "yes"),))
    ctx.abort(CODES[int(code)], message)


def metadata(req, ctx):
    # Echo the client's custom metadata as "key=value" lines (-bin values as hex), and send headers/trailers.
    lines = []
    for key, value in ctx.invocation_metadata():
        if key.startswith("x-"):
            lines.append("%s=%s" % (key, value.hex() if key.endswith("-bin") else value))
    ctx.send_initial_metadata((("x-header", "header-value"), ("x-header-bin", b"\x00\x01\xfe\xff")))
    ctx.set_trailing_metadata((("x-trailer", "trailer-value"), ("x-trailer-bin", b"\xff\x00\x7f")))
    return w.StringValue(value="\n".join(sorted(lines)))


def sleep(req, ctx):
    # Sleeps req.value ms unless the call goes away first; reports how it ended through a later RPC.
    deadline = time.monotonic() + req.value / 1000.0
    while time.monotonic() < deadline and ctx.is_active():
        time.sleep(0.01)
    return w.Int32Value(value=req.value)


def big(req, ctx):
    return w.BytesValue(value=b"x" * req.value)


def count(req, ctx):
    for i in range(req.value):
        yield w.Int32Value(value=i)


def ticker(req, ctx):
    # Streams forever; a client cancel must end it and mark the token.
    token = req.value
    ctx.add_callback(lambda: _event(token).set())
    i = 0
    while ctx.is_active():
        yield w.Int32Value(value=i)
        i += 1
        time.sleep(0.02)


def was_cancelled(req, ctx):
    seen = _event(req.value).wait(timeout=5.0)
    return w.StringValue(value="cancelled" if seen else "not-cancelled")


def sum_(it, ctx):
    return w.Int32Value(value=sum(m.value for m in it))


def chat(it, ctx):
    token = None
    for m in it:
        if token is None and m.value.startswith("token:"):
            token = m.value[len("token:"):]
            ctx.add_callback(lambda: _event(token).set())
        yield w.StringValue(value="echo:" + m.value)


def _u(fn, req, resp):
    return grpc.unary_unary_rpc_method_handler(fn, req.FromString, resp.SerializeToString)


def main():
    handlers = {
        "Echo": _u(echo, w.StringValue, w.StringValue),
        "Fail": _u(fail, w.StringValue, w.StringValue),
        "Metadata": _u(metadata, w.StringValue, w.StringValue),
        "Sleep": _u(sleep, w.Int32Value, w.Int32Value),
        "Big": _u(big, w.Int32Value, w.BytesValue),
        "WasCancelled": _u(was_cancelled, w.StringValue, w.StringValue),
        "Count": grpc.unary_stream_rpc_method_handler(count, w.Int32Value.FromString, w.Int32Value.SerializeToString),
        "Ticker": grpc.unary_stream_rpc_method_handler(ticker, w.StringValue.FromString, w.Int32Value.SerializeToString),
        "Sum": grpc.stream_unary_rpc_method_handler(sum_, w.Int32Value.FromString, w.Int32Value.SerializeToString),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, w.StringValue.FromString, w.StringValue.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # Exit when the test process goes away (stdin closes) so no server outlives its fixture.
    sys.stdin.read()
    server.stop(grace=None)


if __name__ == "__main__":
    main()
