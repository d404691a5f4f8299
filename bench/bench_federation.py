"""Federation envelope benchmark (issue 5): packages sealed (sign + encrypt) and opened
(decrypt + verify + every check) per second, for a realistic referral package.

Run: .venv/bin/python bench/bench_federation.py [--packages 2000]
One process, one thread; the machine's other load matters (see the load average printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from joserfc.jwk import OKPKey

from app.federation.envelope import Party, Peer, new_package, open_package, public_part, seal

RO = Party("https://referral.ro.example", "RO")
BG = Party("https://referral.bg.example", "BG")

# About the size of a referral with its shared parts: profile, needs, risk, a few notes.
BODY = {
    "referral": {
        "urgency": "emergency",
        "purpose": {"text": "Safe accommodation tonight, Romanian interpreter. " * 6, "language": "ro"},
        "needs": ["emergency_accommodation", "medical_care", "interpretation", "legal_aid"],
        "profile": {"year_of_birth": 2007, "sex": "female", "citizenships": ["RO"], "languages": ["ro"]},
        "risk": {"level": "high", "note": {"text": "Recruiter known to the family. " * 4, "language": "ro"}},
        "indicators": [f"adult_sexual.indicator_{i}" for i in range(25)],
        "notes": [{"text": "Contacted by outreach worker at the station. " * 3, "language": "ro"}] * 3,
    }
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2000)
    args = parser.parse_args()
    signing = OKPKey.generate_key("Ed25519")
    encryption = OKPKey.generate_key("X25519")
    trusted = {signing.thumbprint(): Peer(public_part(signing), RO)}
    now = datetime.now(UTC)
    packages = [new_package("referral", BODY, sender=RO, recipient=BG, now=now) for _ in range(args.packages)]

    sealed, seal_times = [], []
    for package in packages:
        started = time.perf_counter()
        sealed.append(seal(package, signing_key=signing, recipient_key=public_part(encryption)))
        seal_times.append(time.perf_counter() - started)
    seen: set[str] = set()
    open_times = []
    for token in sealed:
        started = time.perf_counter()
        opened = open_package(
            token,
            us=BG,
            decryption_keys={encryption.thumbprint(): encryption},
            trusted=trusted.get,
            already_received=seen.__contains__,
            now=now,
        )
        open_times.append(time.perf_counter() - started)
        seen.add(opened.id)

    size = statistics.mean(len(t) for t in sealed)
    total = sum(seal_times) + sum(open_times)
    print(f"### Federation envelope, {args.packages:,} packages of {size:,.0f} bytes (sealed)\n")
    print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| step | per second | p50 | p95 |")
    print("| --- | --- | --- | --- |")
    for label, times in (
        ("seal: sign (Ed25519) + encrypt (ECDH-ES X25519, A256GCM)", seal_times),
        ("open: decrypt + verify + checks", open_times),
    ):
        ordered = sorted(times)
        print(
            f"| {label} | {len(times) / sum(times):,.0f} | {ordered[len(ordered) // 2] * 1e3:.2f} ms "
            f"| {ordered[int(len(ordered) * 0.95)] * 1e3:.2f} ms |"
        )
    print(f"| sign + encrypt + verify + decrypt, one package end to end | {args.packages / total:,.0f} | | |")


if __name__ == "__main__":
    main()
