"""A scripted i-PI server for tests: speaks the wire protocol of shared/docs/ipi-protocol.md."""
import os
import socket
import struct

import numpy as np

HARTREE = 27.21138602  # eV (CODATA 2014, as mmtp and ASE)
BOHR = 0.52917721067  # Å


def header(name):
    return name.encode("ascii").ljust(12)


class FakeIPI:
    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.listener.settimeout(30)
        self.conn = None

    def accept(self):
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(60)

    def close(self):
        if self.conn:
            self.conn.close()
        self.listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def send(self, data):
        self.conn.sendall(data)

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise EOFError("client closed")
            buf += chunk
        return buf

    def status(self):
        self.send(header("STATUS"))
        return self.recv(12).decode().strip()

    def init(self, rid, text=b" "):
        self.send(header("INIT") + struct.pack("ii", rid, len(text)) + text)

    def posdata(self, cell_ang, pos_ang):
        """cell_ang: rows = lattice vectors (ASE convention) [Å]; pos_ang: N×3 [Å]."""
        h = np.asarray(cell_ang, float).T / BOHR  # columns = lattice vectors
        q = np.asarray(pos_ang, float) / BOHR
        return header("POSDATA") + h.tobytes() + np.linalg.inv(h).tobytes() + struct.pack("i", len(q)) + q.tobytes()

    def force_ready(self):
        assert self.recv(12) == header("FORCEREADY")
        pot = struct.unpack("d", self.recv(8))[0]
        nat = struct.unpack("i", self.recv(4))[0]
        f = np.frombuffer(self.recv(24 * nat), float).reshape(nat, 3)
        vir = np.frombuffer(self.recv(72), float).reshape(3, 3)
        nx = struct.unpack("i", self.recv(4))[0]
        extras = self.recv(nx).decode()
        return pot, f, vir, extras

    def compute(self, cell_ang, pos_ang, fused=True):
        """One force call; returns energy [eV], forces [eV/Å], virial [eV], extras text."""
        if fused:
            self.send(self.posdata(cell_ang, pos_ang) + header("GETFORCE"))
        else:
            self.send(self.posdata(cell_ang, pos_ang))
            assert self.status() == "HAVEDATA"
            self.send(header("GETFORCE"))
        pot, f, vir, extras = self.force_ready()
        return pot * HARTREE, f * HARTREE / BOHR, vir * HARTREE, extras
