# A stand-in for the server's POST /api/v1/hello, for the agent's tests.
# fakeapi.py HOST PORT CODE LOG [DELAY]: after DELAY seconds, answers every POST with
# CODE (202: {"status"}, otherwise {"error"}) and appends "PATH CONTENT-TYPE BODY" to LOG.
import http.server, json, sys, time
host, port, code, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if len(sys.argv) > 5:
    time.sleep(float(sys.argv[5]))
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with open(log, "ab") as f:
            f.write(("%s %s " % (self.path, self.headers.get("Content-Type", ""))).encode()
                    + body + b"\n")
        if code == 202:
            out = {"status": "accepted: the server will try the device"}
        else:
            out = {"error": "PID 0000-037M is revoked"}
        data = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.HTTPServer((host, port), H).serve_forever()
