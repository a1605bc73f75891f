"""A throwaway CA and certificates it signs, made with the openssl command,
for the e2e tests' TLS servers and clients."""
import os
import subprocess


def make_certificates(d, names=("server",)):
    """Writes ca.pem/ca.key and NAME.pem/NAME.key for each of `names` (valid
    for localhost and 127.0.0.1) into d; returns {file name: path}."""
    os.makedirs(d, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=convgen-test-ca")
    for name in names:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}")
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    files = ["ca.pem", "ca.key"] + [f"{name}.{ext}" for name in names for ext in ("pem", "key")]
    return {file: os.path.join(d, file) for file in files}
