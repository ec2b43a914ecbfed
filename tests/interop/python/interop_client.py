#!/usr/bin/python3
"""grpc.testing interop client on grpcio (the reference peer for CausalTap's gRPC server).

Usage: /usr/bin/python3 interop_client.py --server HOST:PORT [--cases a,b,...] [CASE ...]
       /usr/bin/python3 interop_client.py --list

Runs the named cases (default: all) from grpc/grpc doc/interop-test-descriptions.md, in order, on one
plaintext channel, and prints exactly one line per case to stdout:
    PASS <case>
    FAIL <case>: <reason>
Exit status: 0 when every case passed, 1 when any failed, 2 on a usage error.
Every RPC carries a deadline (--rpc-timeout, default 15 s) so that a stuck peer fails a case, not the run.
"""
import argparse
import queue
import sys
import threading

import grpc

import interop_stubs

empty_pb2, messages_pb2, test_pb2_grpc = interop_stubs.load()

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
REQUEST_SIZES = [27182, 8, 1828, 45904]
RESPONSE_SIZES = [31415, 9, 2653, 58979]
LARGE_REQUEST_SIZE = 271828
LARGE_RESPONSE_SIZE = 314159
SPECIAL_STATUS_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001F608\t\n"


class CaseFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CaseFailure(message)


class RequestPipe:
    """A request iterator the test feeds one message at a time (ping-pong style)."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            raise StopIteration()
        return item


def payload(size):
    return messages_pb2.Payload(body=b"\0" * size)


def check_payload(resp_payload, size, what="response"):
    check(resp_payload.type == messages_pb2.COMPRESSABLE, f"{what} payload type {resp_payload.type}, expected COMPRESSABLE")
    check(len(resp_payload.body) == size, f"{what} payload is {len(resp_payload.body)} bytes, expected {size}")
    check(resp_payload.body == b"\0" * size, f"{what} payload is not all zeros")


def expect_rpc_error(fn, code, details=None, what="call"):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"{what} ended with {e.code().name} ({e.details()!r}), expected {code.name}")
        if details is not None:
            check(e.details() == details, f"{what} status message {e.details()!r}, expected {details!r}")
        return e
    raise CaseFailure(f"{what} succeeded, expected {code.name}")


class Cases:
    def __init__(self, channel, timeout):
        self.stub = test_pb2_grpc.TestServiceStub(channel)
        self.unimplemented_stub = test_pb2_grpc.UnimplementedServiceStub(channel)
        self.t = timeout

    def empty_unary(self):
        resp = self.stub.EmptyCall(empty_pb2.Empty(), timeout=self.t)
        check(resp is not None and isinstance(resp, empty_pb2.Empty), "no Empty response")

    def large_unary(self):
        req = messages_pb2.SimpleRequest(response_type=messages_pb2.COMPRESSABLE,
                                         response_size=LARGE_RESPONSE_SIZE, payload=payload(LARGE_REQUEST_SIZE))
        resp = self.stub.UnaryCall(req, timeout=self.t)
        check_payload(resp.payload, LARGE_RESPONSE_SIZE)

    def client_streaming(self):
        reqs = [messages_pb2.StreamingInputCallRequest(payload=payload(n)) for n in REQUEST_SIZES]
        resp = self.stub.StreamingInputCall(iter(reqs), timeout=self.t)
        check(resp.aggregated_payload_size == sum(REQUEST_SIZES),
              f"aggregated_payload_size {resp.aggregated_payload_size}, expected {sum(REQUEST_SIZES)}")

    def server_streaming(self):
        req = messages_pb2.StreamingOutputCallRequest(
            response_type=messages_pb2.COMPRESSABLE,
            response_parameters=[messages_pb2.ResponseParameters(size=n) for n in RESPONSE_SIZES])
        responses = list(self.stub.StreamingOutputCall(req, timeout=self.t))
        check(len(responses) == len(RESPONSE_SIZES), f"{len(responses)} responses, expected {len(RESPONSE_SIZES)}")
        for i, (resp, size) in enumerate(zip(responses, RESPONSE_SIZES)):
            check_payload(resp.payload, size, f"response {i}")

    def ping_pong(self):
        pipe = RequestPipe()
        call = self.stub.FullDuplexCall(pipe, timeout=self.t)
        try:
            for i, (req_size, resp_size) in enumerate(zip(REQUEST_SIZES, RESPONSE_SIZES)):
                pipe.add(messages_pb2.StreamingOutputCallRequest(
                    response_type=messages_pb2.COMPRESSABLE,
                    response_parameters=[messages_pb2.ResponseParameters(size=resp_size)],
                    payload=payload(req_size)))
                resp = next(call, None)
                check(resp is not None, f"stream ended after {i} responses, expected 4")
                check_payload(resp.payload, resp_size, f"response {i}")
            pipe.close()
            extra = next(call, None)
            check(extra is None, "more than 4 responses")
            check(call.code() == grpc.StatusCode.OK, f"status {call.code().name}, expected OK")
        finally:
            pipe.close()

    def empty_stream(self):
        responses = list(self.stub.FullDuplexCall(iter([]), timeout=self.t))
        check(len(responses) == 0, f"{len(responses)} responses, expected 0")

    def cancel_after_begin(self):
        pipe = RequestPipe()
        future = self.stub.StreamingInputCall.future(pipe, timeout=self.t)
        future.cancel()
        check(future.cancelled(), "future not cancelled")
        check(future.code() == grpc.StatusCode.CANCELLED, f"status {future.code().name}, expected CANCELLED")
        pipe.close()

    def cancel_after_first_response(self):
        pipe = RequestPipe()
        call = self.stub.FullDuplexCall(pipe, timeout=self.t)
        try:
            pipe.add(messages_pb2.StreamingOutputCallRequest(
                response_type=messages_pb2.COMPRESSABLE,
                response_parameters=[messages_pb2.ResponseParameters(size=31415)],
                payload=payload(27182)))
            resp = next(call)
            check_payload(resp.payload, 31415, "first response")
            call.cancel()
            expect_rpc_error(lambda: next(call), grpc.StatusCode.CANCELLED, what="stream after cancel")
            check(call.code() == grpc.StatusCode.CANCELLED, f"status {call.code().name}, expected CANCELLED")
        finally:
            pipe.close()

    def timeout_on_sleeping_server(self):
        pipe = RequestPipe()
        call = self.stub.FullDuplexCall(pipe, timeout=0.001)
        try:
            pipe.add(messages_pb2.StreamingOutputCallRequest(payload=payload(27182)))
            expect_rpc_error(lambda: next(call), grpc.StatusCode.DEADLINE_EXCEEDED, what="FullDuplexCall")
        finally:
            pipe.close()

    def _status_case(self, message, duplex):
        status = messages_pb2.EchoStatus(code=2, message=message)
        expect_rpc_error(lambda: self.stub.UnaryCall(messages_pb2.SimpleRequest(response_status=status), timeout=self.t),
                         grpc.StatusCode.UNKNOWN, message, what="UnaryCall")
        if duplex:
            req = messages_pb2.StreamingOutputCallRequest(response_status=status)
            expect_rpc_error(lambda: list(self.stub.FullDuplexCall(iter([req]), timeout=self.t)),
                             grpc.StatusCode.UNKNOWN, message, what="FullDuplexCall")

    def status_code_and_message(self):
        self._status_case("test status message", duplex=True)

    def special_status_message(self):
        self._status_case(SPECIAL_STATUS_MESSAGE, duplex=False)

    @staticmethod
    def _check_echoed(initial, trailing, what):
        initial = list(initial or ())
        trailing = list(trailing or ())
        got_initial = [v for k, v in initial if k == ECHO_INITIAL_KEY]
        got_trailing = [v for k, v in trailing if k == ECHO_TRAILING_KEY]
        check(got_initial == [ECHO_INITIAL_VALUE],
              f"{what}: initial metadata {ECHO_INITIAL_KEY}={got_initial!r}, expected [{ECHO_INITIAL_VALUE!r}]")
        check(got_trailing == [ECHO_TRAILING_VALUE],
              f"{what}: trailing metadata {ECHO_TRAILING_KEY}={got_trailing!r}, expected [{ECHO_TRAILING_VALUE!r}]")

    def custom_metadata(self):
        metadata = ((ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE), (ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE))
        req = messages_pb2.SimpleRequest(response_type=messages_pb2.COMPRESSABLE,
                                         response_size=LARGE_RESPONSE_SIZE, payload=payload(LARGE_REQUEST_SIZE))
        resp, call = self.stub.UnaryCall.with_call(req, metadata=metadata, timeout=self.t)
        check_payload(resp.payload, LARGE_RESPONSE_SIZE, "UnaryCall response")
        self._check_echoed(call.initial_metadata(), call.trailing_metadata(), "UnaryCall")

        dreq = messages_pb2.StreamingOutputCallRequest(
            response_type=messages_pb2.COMPRESSABLE,
            response_parameters=[messages_pb2.ResponseParameters(size=LARGE_RESPONSE_SIZE)],
            payload=payload(LARGE_REQUEST_SIZE))
        dcall = self.stub.FullDuplexCall(iter([dreq]), metadata=metadata, timeout=self.t)
        responses = list(dcall)
        check(len(responses) == 1, f"FullDuplexCall: {len(responses)} responses, expected 1")
        check_payload(responses[0].payload, LARGE_RESPONSE_SIZE, "FullDuplexCall response")
        self._check_echoed(dcall.initial_metadata(), dcall.trailing_metadata(), "FullDuplexCall")

    def unimplemented_method(self):
        expect_rpc_error(lambda: self.stub.UnimplementedCall(empty_pb2.Empty(), timeout=self.t),
                         grpc.StatusCode.UNIMPLEMENTED, what="TestService/UnimplementedCall")

    def unimplemented_service(self):
        expect_rpc_error(lambda: self.unimplemented_stub.UnimplementedCall(empty_pb2.Empty(), timeout=self.t),
                         grpc.StatusCode.UNIMPLEMENTED, what="UnimplementedService/UnimplementedCall")


ALL_CASES = [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
    "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
    "status_code_and_message", "special_status_message", "custom_metadata",
    "unimplemented_method", "unimplemented_service",
]


def one_line(text):
    return " ".join(str(text).split()) or "(no detail)"


def describe(exc):
    if isinstance(exc, CaseFailure):
        return str(exc)
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return f"unexpected RPC error {exc.code().name}: {exc.details()!r}"
    return f"{type(exc).__name__}: {exc}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="HOST:PORT of the server under test")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--rpc-timeout", type=float, default=15.0, help="deadline of every RPC, seconds")
    parser.add_argument("--list", action="store_true", help="print the known case names and exit")
    parser.add_argument("case", nargs="*")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(ALL_CASES))
        return 0
    if not args.server:
        parser.error("--server HOST:PORT is required")
    names = [c for c in args.cases.split(",") if c] + args.case or list(ALL_CASES)
    unknown = [n for n in names if n not in ALL_CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)} (known: {', '.join(ALL_CASES)})")

    failed = 0
    with grpc.insecure_channel(args.server) as channel:
        cases = Cases(channel, args.rpc_timeout)
        for name in names:
            try:
                getattr(cases, name)()
                print(f"PASS {name}", flush=True)
            except Exception as exc:  # noqa: BLE001 - every failure becomes one report line
                failed += 1
                print(f"FAIL {name}: {one_line(describe(exc))}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
