#!/usr/bin/env python3
"""Writes the fake-microphone file for Chromium (--use-file-for-fake-audio-capture).

A 1,230 Hz sine: distinctive enough that finding it in the remote audio proves our own audio made
the round trip (not a default 1 kHz beep or noise). 48 kHz mono 16-bit, 30 s, -6 dBFS.
Usage: make-tone.py OUT.wav [HZ] [SECONDS]
"""
import math
import struct
import sys
import wave

out = sys.argv[1]
hz = float(sys.argv[2]) if len(sys.argv) > 2 else 1230.0
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
rate = 48000
amp = 32767 * 10 ** (-6 / 20)  # -6 dBFS peak

frames = bytearray()
for n in range(int(rate * seconds)):
    frames += struct.pack("<h", int(round(amp * math.sin(2 * math.pi * hz * n / rate))))

with wave.open(out, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(bytes(frames))
