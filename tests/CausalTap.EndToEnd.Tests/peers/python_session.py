#!/usr/bin/python3
"""End-to-end session flow from grpcio (the reference gRPC stack) against a running `causaltap serve`.

    python_session.py --server 127.0.0.1:PORT --source synthetic|VIDEO [--frames N] [--width W] [--points N]
    python_session.py --server 127.0.0.1:PORT --health
    python_session.py --server 127.0.0.1:PORT --reflection [--token T]

Session flow: open a session (ingest policy BLOCK), subscribe twice (a live reader and a deliberately stalled one that reads one
update and then nothing until the camera is done), stream JPEG frames (cv2.imencode) paced at 30 fps over
StreamFrames, add points mid-stream, wait until the engine has handled every frame, release the stalled
reader, close the session. Prints one JSON object with what each side saw; the xunit test asserts on it.
Uses clients/python/causaltap_client.py for the stubs, as a user's program would.
"""
import argparse
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "clients", "python"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

import causaltap_client as client  # noqa: E402

pb = client.pb
WAIT_S = 120  # bound on every wait, so a broken server fails the run instead of hanging it


def synthetic_frames(count, width, height):
    """Textured frames (smoothed noise) that shift right by 2 px per frame: trackable, made in-test."""
    import cv2
    rng = np.random.default_rng(7)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height, width + 2 * count, 3), dtype=np.uint8), (0, 0), 2.0)
    for i in range(count):
        bgr = np.ascontiguousarray(texture[:, 2 * (count - i): 2 * (count - i) + width])
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        yield jpeg.tobytes(), width, height, 30.0


class Reader(threading.Thread):
    """Collects a Subscribe stream; a stalled reader takes one update, then waits for `release`."""

    def __init__(self, stub, session_id, queue_updates, release=None, channel_options=None, server=None):
        super().__init__(daemon=True)
        if channel_options is not None:  # its own connection, with its own flow-control window
            stub = client.pb_grpc.TrackerStub(grpc.insecure_channel(server, options=channel_options))
        self.call = stub.Subscribe(pb.SubscribeRequest(session_id=session_id, queue_updates=queue_updates), timeout=WAIT_S)
        self.release = release
        self.frames = []
        self.point_counts = []
        self.skipped = []
        self.received_before_release = 0
        self.first = threading.Event()
        self.error = None
        self.end_code = None

    def run(self):
        try:
            for u in self.call:
                self.frames.append(u.frame_index)
                self.point_counts.append(len(u.points))
                self.skipped.append(u.updates_skipped)
                self.first.set()
                if self.release is not None and not self.release.is_set():
                    self.received_before_release = len(self.frames)
                    self.release.wait(WAIT_S)
            self.end_code = "OK"
        except grpc.RpcError as e:
            self.end_code = e.code().name
            self.error = e.details()
        finally:
            self.first.set()


def session_flow(args):
    stub, _ = client.connect(args.server)
    info = stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=30)
    if args.source == "synthetic":
        frames = list(synthetic_frames(args.frames, args.width, args.width * 3 // 4))
    else:
        frames = list(client.jpeg_frames(args.source, args.frames, args.width))
    width, height = frames[0][1], frames[0][2]
    n_points = min(args.points, info.limits.max_points_per_session or args.points)

    # Policy BLOCK: the engine must handle every frame, so a subscriber that stalled the engine would stall
    # the camera too and StreamFrames would never finish: "ingest is not slowed" becomes a yes/no outcome.
    session = stub.OpenSession(pb.OpenSessionRequest(camera_id="e2e-python", frame_width=width, frame_height=height,
                                                     ingest_policy=pb.INGEST_POLICY_BLOCK), timeout=30)
    sid = session.session_id
    live = Reader(stub, sid, queue_updates=64)
    release = threading.Event()
    # The stalled reader gets a separate channel with BDP probing off, so its HTTP/2 window stays small and
    # the server's writes to it really block (otherwise grpcio would buffer megabytes on its behalf).
    stalled = Reader(stub, sid, queue_updates=1, release=release, server=args.server,
                     channel_options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)])
    live.start()
    stalled.start()
    # Subscribe is registered once the call is up; wait until the session counts both subscribers.
    deadline = time.monotonic() + 30
    while stub.GetSession(pb.GetSessionRequest(session_id=sid), timeout=10).stats.subscribers < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the two subscribers never showed up in SessionStats.subscribers")
        time.sleep(0.02)

    added = {}
    points = [pb.PointQuery(x=(i % 16 + 0.5) * width / 16, y=(i // 16 % 16 + 0.5) * height / 16) for i in range(n_points)]

    def frames_with_points():
        for i, frame in enumerate(client.paced_frames(sid, iter(frames), 30.0)):
            yield frame
            if i == args.points_after:  # mid-stream
                r = stub.AddPoints(pb.AddPointsRequest(session_id=sid, points=points), timeout=30)
                added["ids"] = list(r.point_ids)
                added["query_frame_index"] = r.query_frame_index

    t0 = time.monotonic()
    summary = stub.StreamFrames(frames_with_points(), timeout=WAIT_S)
    stream_seconds = time.monotonic() - t0

    # Every frame is handled (processed, dropped or rejected) while the stalled reader still reads nothing.
    deadline = time.monotonic() + WAIT_S
    while True:
        stats = stub.GetSession(pb.GetSessionRequest(session_id=sid), timeout=10).stats
        if stats.frames_processed + stats.frames_dropped + stats.frames_rejected >= stats.frames_received and len(live.frames) >= stats.frames_processed:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    stalled_was_waiting = not release.is_set() and stalled.received_before_release > 0
    stalled_received_while_stalled = len(stalled.frames)
    release.set()
    closed = stub.CloseSession(pb.CloseSessionRequest(session_id=sid), timeout=30)
    live.join(WAIT_S)
    stalled.join(WAIT_S)

    return {
        "frames_sent": len(frames), "frame_width": width, "frame_height": height, "stream_seconds": round(stream_seconds, 3),
        "summary": {"received": summary.frames_received, "queued": summary.frames_queued,
                    "dropped": summary.frames_dropped, "rejected": summary.frames_rejected},
        "stats": {"received": closed.stats.frames_received, "processed": closed.stats.frames_processed,
                  "dropped": closed.stats.frames_dropped, "rejected": closed.stats.frames_rejected,
                  "latency_ms_p50": closed.stats.latency_ms_p50},
        "points_requested": n_points, "points_added": added,
        "live": {"frames": live.frames, "point_counts": live.point_counts, "max_skipped": max(live.skipped, default=0),
                 "end": live.end_code, "error": live.error},
        "stalled": {"count": len(stalled.frames), "received_while_stalled": stalled_received_while_stalled,
                    "was_waiting": stalled_was_waiting, "last_skipped": stalled.skipped[-1] if stalled.skipped else 0,
                    "end": stalled.end_code, "error": stalled.error},
    }


def health(args):
    import health_pb2
    import health_pb2_grpc
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(args.server))
    result = {}
    for service in ("", "causaltap.v1.Tracker", "no.such.Service"):
        try:
            r = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            result[service or "(server)"] = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        except grpc.RpcError as e:
            result[service or "(server)"] = e.code().name
    return result


def reflection_stubs():
    """grpc.reflection v1 and v1alpha stubs from Debian's grpc-proto, compiled here with protoc (as grpcurl would
    use them: nothing of the server's own code or protos)."""
    import subprocess
    import tempfile
    root = "/usr/share/grpc-proto/grpc/reflection"
    out = tempfile.mkdtemp(prefix="causaltap-reflection-")
    for version in ("v1", "v1alpha"):
        # Staged as reflection_<version>.proto so the two generated modules do not share a name.
        staged = os.path.join(out, "reflection_%s.proto" % version)
        with open(os.path.join(root, version, "reflection.proto")) as src, open(staged, "w") as dst:
            dst.write(src.read())
        subprocess.run([os.environ.get("PROTOC", "/usr/bin/protoc"),
                        "--plugin=protoc-gen-grpc_python=" + os.environ.get("GRPC_PYTHON_PLUGIN", "/usr/bin/grpc_python_plugin"),
                        "-I" + out, "--python_out=" + out, "--grpc_python_out=" + out, staged], check=True)
    sys.path.insert(0, out)


def reflection(args):
    """Lists the services through server reflection (v1 and v1alpha), then resolves the Tracker's file descriptor
    from the server alone and reports its methods, and calls GetServerInfo through a dynamically built message."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    reflection_stubs()
    import reflection_v1_pb2 as v1
    import reflection_v1_pb2_grpc as v1_grpc
    import reflection_v1alpha_pb2 as v1alpha
    import reflection_v1alpha_pb2_grpc as v1alpha_grpc
    channel = grpc.insecure_channel(args.server)
    metadata = (("authorization", "Bearer " + args.token),) if args.token else ()
    result = {}

    def ask(stub, pb2, **request):
        try:
            reply = next(iter(stub.ServerReflectionInfo(iter([pb2.ServerReflectionRequest(**request)]), timeout=10, metadata=metadata)))
            return reply, None
        except grpc.RpcError as e:
            return None, e.code().name

    for name, pb2, stub in (("v1", v1, v1_grpc.ServerReflectionStub(channel)),
                            ("v1alpha", v1alpha, v1alpha_grpc.ServerReflectionStub(channel))):
        reply, error = ask(stub, pb2, list_services="")
        result[name] = {"services": sorted(s.name for s in reply.list_services_response.service) if reply else [], "error": error}

    reply, error = ask(v1_grpc.ServerReflectionStub(channel), v1, file_containing_symbol="causaltap.v1.Tracker")
    if reply is None:
        result["tracker"] = {"error": error}
        return result
    # The file and its imports come back as serialized FileDescriptorProtos: build a pool from them alone.
    pool = descriptor_pool.DescriptorPool()
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in reply.file_descriptor_response.file_descriptor_proto]
    pending = {f.name: f for f in files}
    while pending:
        progressed = False
        for name, f in list(pending.items()):
            if all(dep not in pending for dep in f.dependency):
                pool.Add(f)
                del pending[name]
                progressed = True
        if not progressed:
            break
    service = pool.FindServiceByName("causaltap.v1.Tracker")
    method = service.methods_by_name["GetServerInfo"]
    factory = message_factory.MessageFactory(pool)  # protobuf 3.21 (Debian); newer ones also have GetMessageClass
    request_class = factory.GetPrototype(method.input_type)
    response_class = factory.GetPrototype(method.output_type)
    call = channel.unary_unary("/causaltap.v1.Tracker/GetServerInfo", request_serializer=request_class.SerializeToString,
                               response_deserializer=response_class.FromString)
    info = call(request_class(), timeout=10, metadata=metadata)
    result["tracker"] = {"files": sorted(f.name for f in files), "methods": sorted(service.methods_by_name),
                         "server_info_version": info.version, "error": None}
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--source", default="synthetic", help="'synthetic' or a video file")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--points-after", type=int, default=10, help="add the points after sending this frame")
    parser.add_argument("--health", action="store_true")
    parser.add_argument("--reflection", action="store_true")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    mode = health if args.health else reflection if args.reflection else session_flow
    print(json.dumps(mode(args)), flush=True)


if __name__ == "__main__":
    main()
