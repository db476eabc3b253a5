#!/usr/bin/env python3
"""Prints the SRTP benchmark table for perf/BENCHMARKS.md from criterion's estimates.

Run after `cargo bench -p ferry-perf --bench srtp`; reads target/criterion/*/new/estimates.json
and gives each case's median ns/packet and its ratio to the raw AES-GCM seal of the same size
(AES-256 cases against the AES-256 seal) measured in the same run.
"""
import json, pathlib, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")

def median(*parts):
    p = root.joinpath(*parts, "new", "estimates.json")
    return json.loads(p.read_text())["median"]["point_estimate"] if p.exists() else None

profiles = ["AEAD_AES_128_GCM", "AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"]
print("| operation | profile | backend | bytes | ns/packet | ratio to raw seal |")
print("| --- | --- | --- | --- | --- | --- |")
for size in ("172", "1200"):
    base = {128: median("raw_aead_seal", "aes128gcm", size), 256: median("raw_aead_seal", "aes256gcm", size)}
    for bits in (128, 256):
        print(f"| raw AES-{bits}-GCM seal (ring) | - | ring | {size} | {base[bits]:.0f} | 1.00 |")
    for op in ("srtp_protect", "srtp_unprotect"):
        for prof in profiles:
            for backend in (("ring", "rustcrypto") if "GCM" in prof else ("rustcrypto-cm",)):
                ns = median(op, f"{prof}_{backend}".replace("/", "_"), size) or median(op, prof, backend, size)
                if ns is None:
                    continue
                b = base[256 if "256" in prof else 128]
                print(f"| {op.split('_')[1]} | {prof} | {backend} | {size} | {ns:.0f} | {ns / b:.2f} |")
