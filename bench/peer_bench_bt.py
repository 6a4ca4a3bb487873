#!/usr/bin/python3
"""libtorrent's side of bench/peer_bench.sh: a v2 torrent, seeders, a leecher.

  peer_bench_bt.py make FILE TORRENT            writes a v2-only torrent, 1 MiB pieces
  peer_bench_bt.py seed IP PORT TORRENT DIR     seeds FILE from DIR until killed
  peer_bench_bt.py get IP PORT TORRENT DIR PEER_IP:PORT...
                                                downloads into DIR from the peers
                                                given (no tracker, DHT or LSD) and
                                                prints the seconds it took

Plain TCP without encryption, as the comparison in issue 19 was measured.
"""
import os
import sys
import time

import libtorrent as lt


def session(ip, port):
    return lt.session({
        "listen_interfaces": f"{ip}:{port}",
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "in_enc_policy": lt.enc_policy.disabled,
        "out_enc_policy": lt.enc_policy.disabled,
        "alert_mask": 0,
    })


def make(path, torrent):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, 1 << 20, flags=lt.create_torrent.v2_only)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(torrent, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def add(ses, torrent, save_path, seed):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_path
    if seed:
        atp.flags |= lt.torrent_flags.seed_mode
    return ses.add_torrent(atp)


def main():
    mode = sys.argv[1]
    if mode == "make":
        make(sys.argv[2], sys.argv[3])
        return
    ip, port, torrent, where = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    ses = session(ip, port)
    if mode == "seed":
        add(ses, torrent, where, True)
        print("seeding", flush=True)
        while True:
            time.sleep(3600)
    start = time.monotonic()
    h = add(ses, torrent, where, False)
    for peer in sys.argv[6:]:
        peer_ip, peer_port = peer.rsplit(":", 1)
        h.connect_peer((peer_ip, int(peer_port)))
    while True:
        s = h.status()
        if s.is_seeding:
            break
        if s.errc.value() != 0:
            sys.exit(f"libtorrent: {s.errc.message()}")
        time.sleep(0.01)
    print(f"{time.monotonic() - start:.3f}")


if __name__ == "__main__":
    main()
