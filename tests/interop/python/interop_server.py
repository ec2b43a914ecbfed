#!/usr/bin/python3
"""grpc.testing.TestService on grpcio (the reference peer for CausalTap's gRPC client).

Usage: /usr/bin/python3 interop_server.py [--host 127.0.0.1] [--port 0]

Prints the bound port (a bare number) as its first stdout line, then serves until SIGTERM/SIGINT.
Server features (grpc/grpc doc/interop-test-descriptions.md): EmptyCall, UnaryCall, StreamingInputCall,
StreamingOutputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo Metadata, interval_us.
UnimplementedCall and UnimplementedService are left unimplemented (UNIMPLEMENTED). Compressed requests
are not supported: expect_compressed=true fails with INVALID_ARGUMENT, as the spec asks of such servers.
"""
import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import interop_stubs

empty_pb2, messages_pb2, test_pb2_grpc = interop_stubs.load()

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"


def _code(value):
    for c in grpc.StatusCode:
        if c.value[0] == value:
            return c
    return grpc.StatusCode.UNKNOWN


def _echo_metadata(context):
    initial, trailing = [], []
    for key, value in context.invocation_metadata():
        if key == ECHO_INITIAL_KEY:
            initial.append((key, value))
        elif key == ECHO_TRAILING_KEY:
            trailing.append((key, value))
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def _maybe_echo_status(request, context):
    if request.HasField("response_status") and request.response_status.code != 0:
        context.abort(_code(request.response_status.code), request.response_status.message)


def _payload(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\0" * size)


def _check_expect_compressed(request, context):
    if request.HasField("expect_compressed") and request.expect_compressed.value:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "compressed requests are not supported by this server")


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        _echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        _echo_metadata(context)
        _check_expect_compressed(request, context)
        _maybe_echo_status(request, context)
        if request.response_type != messages_pb2.COMPRESSABLE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported response_type")
        return messages_pb2.SimpleResponse(payload=_payload(request.response_size))

    def StreamingOutputCall(self, request, context):
        _echo_metadata(context)
        _maybe_echo_status(request, context)
        for params in request.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            yield messages_pb2.StreamingOutputCallResponse(payload=_payload(params.size))

    def StreamingInputCall(self, request_iterator, context):
        _echo_metadata(context)
        total = 0
        for request in request_iterator:
            _check_expect_compressed(request, context)
            total += len(request.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        for request in request_iterator:
            _maybe_echo_status(request, context)
            for params in request.response_parameters:
                if params.interval_us > 0:
                    time.sleep(params.interval_us / 1e6)
                yield messages_pb2.StreamingOutputCallResponse(payload=_payload(params.size))

    def HalfDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        requests = list(request_iterator)
        for request in requests:
            _maybe_echo_status(request, context)
            for params in request.response_parameters:
                if params.interval_us > 0:
                    time.sleep(params.interval_us / 1e6)
                yield messages_pb2.StreamingOutputCallResponse(payload=_payload(params.size))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32),
                         options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        print(f"interop_server.py: cannot bind {args.host}:{args.port}", file=sys.stderr)
        return 1
    server.start()
    print(port, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=0.5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
