#!/usr/bin/python3
"""Minimal CausalTap client on grpcio: stream a video's frames as JPEG, add points, print track updates.

    /usr/bin/python3 causaltap_client.py --server 127.0.0.1:50051 video.mp4 --points "320,240;100,80"

The Python stubs are generated from proto/causaltap/v1/tracker.proto on first use (see load_stubs); the
functions below are the whole client: copy what you need.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
TRACKER_PROTO = "causaltap/v1/tracker.proto"
HEALTH_PROTO = "/usr/share/grpc-proto/grpc/health/v1/health.proto"


def load_stubs(out_dir=None):
    """Generates (once) and imports the stubs; returns (tracker_pb2, tracker_pb2_grpc).

    Uses protoc 3.21 with Debian's grpc_python_plugin (python3-grpc-tools' bundled protoc is too old for
    this proto). The stubs go to $CAUSALTAP_PY_STUBS or a temp folder named after the proto's hash, so a
    changed proto regenerates them; generated code is never committed.
    """
    proto_path = os.path.join(PROTO_ROOT, TRACKER_PROTO)
    with open(proto_path, "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:16]
    out_dir = out_dir or os.environ.get("CAUSALTAP_PY_STUBS") or os.path.join(tempfile.gettempdir(), "causaltap-py-stubs-" + key)
    if not os.path.isfile(os.path.join(out_dir, "causaltap", "v1", "tracker_pb2_grpc.py")):
        # Generate into a fresh folder and rename it into place, so concurrent clients never see half a stub.
        tmp = tempfile.mkdtemp(prefix=".stubs-", dir=os.path.dirname(out_dir) or ".")
        protoc = [os.environ.get("PROTOC", "/usr/bin/protoc"),
                  "--plugin=protoc-gen-grpc_python=" + os.environ.get("GRPC_PYTHON_PLUGIN", "/usr/bin/grpc_python_plugin"),
                  "--python_out=" + tmp, "--grpc_python_out=" + tmp]
        subprocess.run(protoc + ["-I" + PROTO_ROOT, proto_path], check=True)
        if os.path.isfile(HEALTH_PROTO):  # grpc.health.v1 as top-level health_pb2 (no clash with the grpc package)
            subprocess.run(protoc + ["-I" + os.path.dirname(HEALTH_PROTO), HEALTH_PROTO], check=True)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race with identical stubs
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    from causaltap.v1 import tracker_pb2, tracker_pb2_grpc
    return tracker_pb2, tracker_pb2_grpc


pb, pb_grpc = load_stubs()


def connect(server, token=None):
    """A TrackerStub plus the call metadata (bearer token) every call should carry."""
    channel = grpc.insecure_channel(server, options=[("grpc.max_receive_message_length", 64 << 20),
                                                     ("grpc.max_send_message_length", 64 << 20)])
    metadata = (("authorization", "Bearer " + token),) if token else ()
    return pb_grpc.TrackerStub(channel), metadata


def now_ns():
    return time.time_ns()


def jpeg_frames(video_path, max_frames=0, width=0):
    """Yields (jpeg_bytes, width, height, fps) for each frame of a video, scaled to `width` if given."""
    import cv2
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        raise OSError("cannot open " + video_path)
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    count = 0
    while not max_frames or count < max_frames:
        ok, bgr = capture.read()
        if not ok:
            break
        if width:
            bgr = cv2.resize(bgr, (width, round(bgr.shape[0] * width / bgr.shape[1])), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ValueError("JPEG encoding failed")
        yield jpeg.tobytes(), bgr.shape[1], bgr.shape[0], fps
        count += 1
    capture.release()


def paced_frames(session_id, frames, fps):
    """Frame messages for StreamFrames, sent on the schedule start + i/fps with capture timestamps."""
    start = time.monotonic()
    for i, (jpeg, _, _, _) in enumerate(frames):
        delay = start + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield pb.Frame(session_id=session_id, capture_time_ns=now_ns(), sequence=i,
                       encoded=pb.EncodedImage(data=jpeg, format="jpeg"))


def format_update(u):
    """One compact line: frame, server latency (publish - receive) and id:x,y,v|o per point."""
    points = " ".join(f"{p.id}:{p.x:.1f},{p.y:.1f},{'v' if p.visible else 'o'}" for p in u.points)
    return f"frame {u.frame_index} latency {(u.publish_time_ns - u.receive_time_ns) / 1e6:.1f} ms skipped {u.updates_skipped} | {points}"


_print_lock = threading.Lock()


def say(line):
    """Prints one whole line: the subscriber thread and the main thread write to the same stdout."""
    with _print_lock:
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("--server", required=True, help="host:port")
    parser.add_argument("--token", default=os.environ.get("CAUSALTAP_TOKEN"))
    parser.add_argument("--points", default="", help='query points in source pixels, "x,y;x,y" (default: frame centre)')
    parser.add_argument("--frames", type=int, default=0, help="stop after N frames (0 = whole video)")
    parser.add_argument("--width", type=int, default=0, help="scale frames to this width before sending")
    args = parser.parse_args()

    stub, metadata = connect(args.server, args.token)
    frames = jpeg_frames(args.video, args.frames, args.width)
    first = next(frames)
    _, width, height, fps = first

    session = stub.OpenSession(pb.OpenSessionRequest(camera_id="python-example", frame_width=width, frame_height=height), metadata=metadata)
    say(f"session {session.session_id} model {session.model}")

    # Controller side: a subscriber thread prints every update until the session closes.
    updates = stub.Subscribe(pb.SubscribeRequest(session_id=session.session_id), metadata=metadata)
    printer = threading.Thread(target=lambda: [say(format_update(u)) for u in updates])
    printer.start()

    # Camera side: one client-streaming call; points are added once the first frame is on its way.
    def all_frames():
        yield first
        yield from frames

    points = [tuple(map(float, p.split(","))) for p in args.points.split(";") if p.strip()] or [(width / 2, height / 2)]

    def frames_then_points():
        for i, frame in enumerate(paced_frames(session.session_id, all_frames(), fps)):
            yield frame
            if i == 0:
                added = stub.AddPoints(pb.AddPointsRequest(session_id=session.session_id,
                                                           points=[pb.PointQuery(x=x, y=y) for x, y in points]), metadata=metadata)
                say(f"points {list(added.point_ids)} attach to frame {added.query_frame_index}")

    summary = stub.StreamFrames(frames_then_points(), metadata=metadata)
    say(f"sent {summary.frames_received} frames: queued {summary.frames_queued}, dropped {summary.frames_dropped}, rejected {summary.frames_rejected}")

    # Let the engine finish the queued frames, then close: the subscriber's stream ends with OK.
    for _ in range(100):
        s = stub.GetSession(pb.GetSessionRequest(session_id=session.session_id), metadata=metadata).stats
        if s.frames_processed + s.frames_dropped + s.frames_rejected >= s.frames_received:
            break
        time.sleep(0.05)
    closed = stub.CloseSession(pb.CloseSessionRequest(session_id=session.session_id), metadata=metadata)
    printer.join(timeout=10)
    say(f"closed: processed {closed.stats.frames_processed}, latency p50 {closed.stats.latency_ms_p50:.1f} ms p99 {closed.stats.latency_ms_p99:.1f} ms")


if __name__ == "__main__":
    main()
