"""Reference peer for the CausalTap.Imaging tests: OpenCV and PIL make and decode images.

Every command writes raw outputs the C# tests compare against:
  *.rgb   packed uint8 RGB rows (what a correct decoder must produce)
  *.f32   float32 little-endian, CHW [3, H, W]
Commands:
  synth OUT.rgb W H SEED                     a deterministic test picture (gradients, edges, noise)
  jpeg IN.rgb W H OUT.jpg QUALITY SUBSAMP ENCODER   encode with PIL (subsampling 0/1/2), PIL greyscale (pilgray) or cv2; write OUT.jpg.ref.rgb as decoded by cv2
  decode IN OUT.rgb                          cv2.imread (libjpeg-turbo / libpng) -> RGB; prints "W H"
  pildecode IN OUT.rgb                       PIL open + convert("RGB"); prints "W H"
  png IN.rgb W H MODE OUT.png                write a PNG in one colour type; OUT.png.ref.rgb is the expected RGB
  resize IN.rgb W H OW OH OUT.f32            cv2.resize(INTER_LINEAR) then x / 127.5 - 1, CHW float32
"""
import sys

import cv2
import numpy as np
from PIL import Image


def load_rgb(path, w, h):
    return np.fromfile(path, dtype=np.uint8).reshape(int(h), int(w), 3)


def synth(out, w, h, seed):
    w, h = int(w), int(h)
    rng = np.random.default_rng(int(seed))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 7.0) * np.cos(y / 11.0)
    img = np.stack([r, g, b], axis=-1)
    img[h // 4: h // 2, w // 4: w // 2] = (250, 20, 30)      # a sharp-edged block
    img += rng.normal(0, 12, img.shape)
    np.clip(img, 0, 255).astype(np.uint8).tofile(out)


def jpeg(src, w, h, out, quality, subsamp, encoder):
    rgb = load_rgb(src, w, h)
    if encoder == "pil":
        Image.fromarray(rgb).save(out, quality=int(quality), subsampling=int(subsamp))
    elif encoder == "pilgray":
        Image.fromarray(rgb).convert("L").save(out, quality=int(quality))
    else:
        ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        assert ok
        buf.tofile(out)
    decode(out, out + ".ref.rgb")


def decode(src, out):
    img = cv2.imread(src, cv2.IMREAD_COLOR)
    assert img is not None, "cv2 could not read " + src
    np.ascontiguousarray(img[:, :, ::-1]).tofile(out)
    print(img.shape[1], img.shape[0])


def pildecode(src, out):
    img = Image.open(src)
    np.asarray(img.convert("RGB")).tofile(out)
    print(img.size[0], img.size[1])


def png(src, w, h, mode, out):
    rgb = load_rgb(src, w, h)
    pil = Image.fromarray(rgb)
    if mode in ("L", "RGB"):
        im = pil.convert(mode)
        im.save(out)
        expected = np.asarray(im.convert("RGB"))
    elif mode in ("LA", "RGBA"):
        im = pil.convert(mode)
        alpha = np.tile(np.arange(im.size[0], dtype=np.uint8), (im.size[1], 1))
        im.putalpha(Image.fromarray(alpha))            # alpha varies, colour must not depend on it
        im.save(out)
        expected = np.asarray(im.convert("RGB" if mode == "RGBA" else "L").convert("RGB"))
    elif mode == "P":
        im = pil.quantize(colors=200)
        im.save(out)
        expected = np.asarray(im.convert("RGB"))
    elif mode == "P4":
        im = pil.quantize(colors=16)
        im.save(out, bits=4)
        expected = np.asarray(im.convert("RGB"))
    elif mode == "1":
        im = pil.convert("1")
        im.save(out)
        expected = np.asarray(im.convert("RGB"))
    elif mode == "G16":
        gray = np.asarray(pil.convert("L")).astype(np.uint16)
        g16 = gray * 257 + (np.arange(gray.size).reshape(gray.shape) % 200).astype(np.uint16)  # low byte noise
        g16 = np.minimum(g16, 65535).astype(np.uint16)
        assert cv2.imwrite(out, g16)
        hi = (g16 >> 8).astype(np.uint8)
        expected = np.stack([hi, hi, hi], axis=-1)
    elif mode == "RGB16":
        c16 = rgb.astype(np.uint16) * 257
        assert cv2.imwrite(out, np.ascontiguousarray(c16[:, :, ::-1]))
        expected = (c16 >> 8).astype(np.uint8)
    elif mode == "cvRGB":
        assert cv2.imwrite(out, np.ascontiguousarray(rgb[:, :, ::-1]))
        expected = rgb
    else:
        raise SystemExit("unknown mode " + mode)
    np.ascontiguousarray(expected).tofile(out + ".ref.rgb")


def resize(src, w, h, ow, oh, out):
    rgb = load_rgb(src, w, h)
    r = cv2.resize(rgb, (int(ow), int(oh)), interpolation=cv2.INTER_LINEAR)
    x = r.astype(np.float32) / 127.5 - 1.0
    np.ascontiguousarray(x.transpose(2, 0, 1)).astype("<f4").tofile(out)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"synth": synth, "jpeg": jpeg, "decode": decode, "pildecode": pildecode, "png": png, "resize": resize}[cmd](*args)
