#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local stand-in for Intel PCS API v4, serving the recorded collateral of the shared
vectors ({sgx,tdx}/full-collateral/collateral.json) in the form the PCS serves it: TCB Info
and QE Identity as {"tcbInfo"|"enclaveIdentity": <signed text>, "signature": hex}, the PCK CRL
as DER, each issuer chain percent-encoded in its response header.

usage: pcs_server.py VECTORS_DIR PORT_FILE LOG_FILE
The first path segment picks the set: /sgx/..., /tdx/... ; /broken/... serves the SGX set with
a TCB-Info-Issuer-Chain that decodes to a truncated certificate; /badtcb/... serves it with a
TCB Info body that is not a TCB Info ({"tcbInfo":{},...}). Every request path is
appended to LOG_FILE (one line each), so a test counts the PCS hits."""
import http.server
import json
import sys
import urllib.parse

vectors, port_file, log_file = sys.argv[1:4]
sets = {}
for tee in ("sgx", "tdx"):
    with open(f"{vectors}/{tee}/full-collateral/collateral.json") as f:
        sets[tee] = json.load(f)


def chain_header(pem):
    return urllib.parse.quote(pem, safe="")


class PCS(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body, header, chain, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header(header, chain)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(log_file, "a") as log:
            log.write(self.path + "\n")
        parts = urllib.parse.urlsplit(self.path)
        segs = parts.path.split("/")  # ['', set, tee, 'certification', 'v4', item...]
        name = segs[1] if len(segs) > 1 else ""
        c = sets.get("sgx" if name in ("broken", "badtcb") else name)
        item = "/".join(segs[5:]) if len(segs) > 5 else ""
        if c is None:
            self.send_error(404)
            return
        if item == "tcb":
            chain = chain_header(c["tcb_info_issuer_chain"])
            if name == "broken":  # cut inside the first certificate's base64
                chain = chain_header(c["tcb_info_issuer_chain"][:200])
            body = '{"tcbInfo":' + c["tcb_info"] + ',"signature":"' + c["tcb_info_signature"] + '"}'
            if name == "badtcb":
                body = '{"tcbInfo":{},"signature":"' + c["tcb_info_signature"] + '"}'
            self.reply(body.encode(), "TCB-Info-Issuer-Chain", chain, "application/json")
        elif item == "qe/identity":
            body = ('{"enclaveIdentity":' + c["qe_identity"] + ',"signature":"'
                    + c["qe_identity_signature"] + '"}')
            self.reply(body.encode(), "SGX-Enclave-Identity-Issuer-Chain",
                       chain_header(c["qe_identity_issuer_chain"]), "application/json")
        elif item == "pckcrl":
            self.reply(bytes.fromhex(c["pck_crl"]), "SGX-PCK-CRL-Issuer-Chain",
                       chain_header(c["pck_crl_issuer_chain"]), "application/pkix-crl")
        elif item == "rootcacrl":  # a PCCS serves it (as hex); Intel's PCS does not
            body = c["root_ca_crl"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)


server = http.server.HTTPServer(("127.0.0.1", 0), PCS)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
