#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/: small valid inputs of
each format (and a few near misses). Needs Debian's python3-torch for the .pth files, python3-pil
for the images and a built `deepl` (argv[1]) for the deepl checkpoint.
Run: tests/fuzz/make_corpus.py build/apps/deepl     every corpus
     tests/fuzz/make_corpus.py --only image ...      the named corpora (not checkpoint)"""
import gzip
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def idx(type_code, fmt, dims, values):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + b"".join(struct.pack(">" + fmt, v) for v in values)


def idx_corpus():
    images = idx(0x08, "B", [3, 4, 4], [(i * 37) % 256 for i in range(48)])
    labels = idx(0x08, "B", [3], [1, 7, 3])
    out("idx", "images_u8", images)
    out("idx", "labels_u8", labels)
    out("idx", "images_u8.gz", gzip.compress(images, mtime=0))
    out("idx", "labels_u8.gz", gzip.compress(labels, mtime=0))
    out("idx", "floats_f32", idx(0x0D, "f", [2, 3], [0.5, -1.0, 2.0, 3.25, 0.0, 1e-3]))
    out("idx", "doubles_f64", idx(0x0E, "d", [2], [1.5, -2.5]))
    out("idx", "ints_i32", idx(0x0C, "i", [2, 2], [1, -2, 3, -4]))
    out("idx", "shorts_i16", idx(0x0B, "h", [3], [1, -2, 300]))
    out("idx", "sbytes_i8", idx(0x09, "b", [2], [-1, 5]))


def config_corpus():
    os.makedirs(os.path.join(CORPUS, "config"), exist_ok=True)
    for name in ["mlp_mnist", "cnn_mnist", "fashion_cnn", "fashion_vgg16", "mnist_best", "fashion_best"]:
        shutil.copy(os.path.join(ROOT, "experiments", name + ".json"), os.path.join(CORPUS, "config", name + ".json"))
    out("config", "minimal.json", json.dumps({"name": "x", "model": {"type": "mlp", "hidden": [8]}}).encode())
    out("config", "everything.json", json.dumps({
        "name": "x", "seed": 3, "threads": 1,
        "data": {"dataset": "fashion-mnist", "val_fraction": 0.2, "normalize": "fixed", "mean": [0.5], "std": [0.25],
                 "batch_size": 32, "random_crop": 2, "hflip": True},
        "model": {"type": "cnn", "blocks": [{"convs": [{"out_channels": 4, "padding": 1}], "batch_norm": True}],
                  "hidden": [16], "dropout": 0.1},
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        "scheduler": {"type": "plateau", "patience": 1},
        "train": {"epochs": 2, "early_stopping": {"monitor": "val_loss", "patience": 2}, "precision": "bf16"},
        "distributed": {"timeout_seconds": 30}}).encode())


def csv_corpus():
    out("csv", "xy.csv", b"x,y\n0,1\n1,3.5\n2,6\n")
    out("csv", "three.csv", b"x1,x2,y\n-1.5,2e-3,0\n 4 , 5 ,1\n")
    out("csv", "crlf.csv", b"a,b\r\n1,2\r\n")
    # tables for the csv data source: text and integer labels, quoting, a ragged row, a bad number
    out("csv", "labels.csv", b"a,b,y\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n9,10,\"bird, small\"\n")
    out("csv", "quoted.csv", b'"a ""x""",y\r\n"1.5",0\r\n"-2e3",1\r\n3,1\r\n')
    out("csv", "ragged.csv", b"a,b,y\n1,2,0\n3,1\n")
    out("csv", "missing.csv", b"a,y\n,0\n1,1\n")
    out("csv", "unclosed.csv", b'a,y\n"1,0\n')


def pth_corpus():
    import torch

    tiny = OrderedDict([("fc.weight", torch.arange(6, dtype=torch.float32).view(2, 3)),
                        ("fc.bias", torch.tensor([0.5, -0.5])),
                        ("bn.num_batches_tracked", torch.tensor(3))])
    with tempfile.TemporaryDirectory() as tmp:
        for name, legacy in [("zip.pth", False), ("legacy.pth", True)]:
            path = os.path.join(tmp, name)
            torch.save(tiny, path, _use_new_zipfile_serialization=not legacy)
            with open(path, "rb") as f:
                out("pytorch_file", name, f.read())
        path = os.path.join(tmp, "nested.pth")
        torch.save({"state_dict": {"w": torch.ones(2, dtype=torch.float64)[1:]}}, path)
        with open(path, "rb") as f:
            out("pytorch_file", "nested_view.pth", f.read())


def checkpoint_corpus(deepl):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "mnist")
        os.makedirs(data)
        images = idx(0x08, "B", [40, 28, 28], [(i * 7) % 256 for i in range(40 * 784)])
        labels = idx(0x08, "B", [40], [i % 10 for i in range(40)])
        for split in ["train", "t10k"]:
            with open(os.path.join(data, split + "-images-idx3-ubyte"), "wb") as f:
                f.write(images)
            with open(os.path.join(data, split + "-labels-idx1-ubyte"), "wb") as f:
                f.write(labels)
        config = os.path.join(tmp, "tiny.json")
        with open(config, "w") as f:
            json.dump({"name": "tiny", "data": {"root": tmp, "val_fraction": 0.25, "batch_size": 10},
                       "model": {"type": "mlp", "hidden": [2]}, "optimizer": {"type": "sgd", "lr": 0.1,
                                                                                "momentum": 0.5},
                       "train": {"epochs": 1}, "output": {"dir": os.path.join(tmp, "runs")}}, f)
        subprocess.run([deepl, "train", "--quiet", "--config", config], check=True)
        with open(os.path.join(tmp, "runs", "tiny", "checkpoints", "last.pt"), "rb") as f:
            out("checkpoint", "mlp_sgd.pt", f.read())


def encoded(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def png_with_size(png, width, height):
    """The PNG with its IHDR claiming width x height, the chunk's CRC made right again."""
    ihdr = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def jpeg_with_size(jpeg, width, height):
    """The JPEG with its baseline SOF claiming width x height."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


def image_corpus():
    """Each format deepl reads, small, plus the shapes that crashed stb_image and the formats it refuses."""
    from PIL import Image

    random.seed(3)

    def noise(mode, size=(8, 6)):
        return Image.frombytes(mode, size, bytes(random.randrange(256) for _ in range(size[0] * size[1] * len(mode))))

    gray, rgb, rgba = noise("L"), noise("RGB"), noise("RGBA")
    palette = rgb.convert("P", palette=Image.ADAPTIVE, colors=8)
    png = encoded(rgb, format="PNG")
    jpeg = encoded(rgb, format="JPEG", quality=75)
    bmp = encoded(rgb, format="BMP")
    out("image", "gray.png", encoded(gray, format="PNG"))
    out("image", "rgb.png", png)
    out("image", "rgba.png", encoded(rgba, format="PNG"))
    out("image", "gray_alpha.png", encoded(Image.merge("LA", [gray, noise("L")]), format="PNG"))
    out("image", "palette.png", encoded(palette, format="PNG"))
    out("image", "palette_transparent.png", encoded(palette, format="PNG", transparency=0))
    gray16 = b"".join(struct.pack(">H", v * 257) for v in gray.tobytes())
    out("image", "gray16.png", encoded(Image.frombytes("I;16B", gray.size, gray16).convert("I"), format="PNG"))
    out("image", "gray.jpg", encoded(gray, format="JPEG", quality=75))
    out("image", "rgb.jpg", jpeg)
    out("image", "progressive.jpg", encoded(rgb, format="JPEG", quality=75, progressive=True))
    out("image", "cmyk.jpg", encoded(rgb.convert("CMYK"), format="JPEG", quality=75))
    out("image", "rgb.bmp", bmp)
    out("image", "rgb_top_down.bmp", bmp[:22] + struct.pack("<i", -rgb.size[1]) + bmp[26:])
    out("image", "rgbx32.bmp", encoded(rgba, format="BMP"))
    out("image", "gray.bmp", encoded(gray, format="BMP"))
    out("image", "palette.bmp", encoded(palette, format="BMP"))
    out("image", "gray.pgm", encoded(gray, format="PPM"))
    out("image", "rgb.ppm", encoded(rgb, format="PPM"))
    samples = b"".join(struct.pack(">H", v * 1000 // 255) for v in gray.tobytes())
    out("image", "gray16.pgm", b"P5\n# maxval 1000\n8 6\n1000\n" + samples)
    # Near misses: truncated, huge or empty dimensions, damaged checksums and markers.
    idat = png.index(b"IDAT")
    out("image", "truncated_idat.png", png[:idat + 4 + (len(png) - idat) // 2])
    out("image", "huge_ihdr.png", png_with_size(png, 100000, 100000))
    out("image", "zero_width.png", png_with_size(png, 0, 6))
    out("image", "bad_crc.png", png[:29] + bytes([png[29] ^ 1]) + png[30:])
    out("image", "truncated.jpg", jpeg[:len(jpeg) // 2])
    out("image", "bogus_sof_zero.jpg", jpeg_with_size(jpeg, 0, 0))
    out("image", "bogus_sof_huge.jpg", jpeg_with_size(jpeg, 65500, 65500))
    out("image", "huge.bmp", bmp[:18] + struct.pack("<ii", 0x7FFFFFFF, -0x7FFFFFFF) + bmp[26:])
    out("image", "truncated.bmp", bmp[:len(bmp) - 20])
    out("image", "huge.ppm", b"P6 2147483647 2147483647 255\n" + bytes(16))
    out("image", "truncated.ppm", b"P6 8 6 255\n" + bytes(20))
    out("image", "empty", b"")
    # Formats deepl refuses by their magic bytes.
    out("image", "small.gif", encoded(palette, format="GIF"))
    out("image", "small.tga", encoded(rgb, format="TGA"))
    out("image", "small.tif", encoded(gray, format="TIFF"))
    out("image", "small.webp", encoded(gray, format="WEBP", lossless=True))
    out("image", "psd_magic", b"8BPS\x00\x01" + bytes(20))
    out("image", "heic_magic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")


CORPORA = {"idx": idx_corpus, "config": config_corpus, "csv": csv_corpus, "pytorch_file": pth_corpus,
           "image": image_corpus}

if __name__ == "__main__":
    if sys.argv[1:2] == ["--only"]:
        for target in sys.argv[2:]:
            CORPORA[target]()
    else:
        for make in CORPORA.values():
            make()
        checkpoint_corpus(sys.argv[1])
