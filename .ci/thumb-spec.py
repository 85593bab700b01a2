#!/usr/bin/env python3
"""Writes a Thumb variant of rustc's own target spec for TRIPLE to DIR/TRIPLE.json and
prints its path (used by `make pi TINY=1` for 32-bit ARM).

Thumb code is 16-bit instructions (Thumb-1 on the Pi 1's ARMv6, Thumb-2 on ARMv7): about
a fifth smaller than ARM code, a little slower. rustup ships no Thumb target for ARMv6
Linux, so the spec is derived from the installed rustc's ARM one — same ABI, same musl —
with these changes:
  features += +thumb-mode         compile Rust code as Thumb; musl and libunwind stay ARM
  has-thumb-interworking = true   ARM and Thumb functions call each other (BLX, ARMv5T+)
  llvm-target armv6kz (ARMv6)     the ARM1176JZF-S's architecture: LLVM's plain `arm`
                                  triple assembles inline `.thumb` blocks as ARMv4
  max-atomic-width = 32 (ARMv6)   Thumb-1 has no 64-bit atomic instructions
The file is rewritten only when its content changes, so cargo does not rebuild std.
"""
import json
import os
import subprocess
import sys

triple, out_dir = sys.argv[1], sys.argv[2]
printed = subprocess.run(
    ["rustc", "-Zunstable-options", "--print", "target-spec-json", "--target", triple],
    env={**os.environ, "RUSTC_BOOTSTRAP": "1"}, check=True, capture_output=True, text=True)
spec = json.loads(printed.stdout)
if spec.get("arch") != "arm":
    sys.exit(f"thumb-spec: {triple} is not a 32-bit ARM target")
spec.pop("metadata", None)  # describes rustup's target; not part of a custom spec
features = spec["features"].split(",")
if "+thumb-mode" not in features:
    features.append("+thumb-mode")
spec["features"] = ",".join(features)
spec["has-thumb-interworking"] = True
if "+v6" in features:
    spec["llvm-target"] = spec["llvm-target"].replace("arm-", "armv6kz-", 1)
    spec["max-atomic-width"] = 32

os.makedirs(out_dir, exist_ok=True)
path = os.path.join(os.path.abspath(out_dir), triple + ".json")
text = json.dumps(spec, indent=2, sort_keys=True) + "\n"
try:
    with open(path) as f:
        same = f.read() == text
except FileNotFoundError:
    same = False
if not same:
    with open(path, "w") as f:
        f.write(text)
print(path)
