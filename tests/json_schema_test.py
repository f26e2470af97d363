#!/usr/bin/python3
"""The JSON output of the real iovamap command against docs/iovamap.schema.json.

Usage: json_schema_test.py IOVAMAP_BINARY SOURCE_DIR

Runs the built binary over every snapshot (tests/data/snapshots/*/root, tests/data/lab-*/root),
every example topology (examples/*.toml) and a few topologies written here (a refused container,
the edges of every field), with every command that applies: list, regions and ranges under all
policies, ranges for each group (type1 and --iommufd), check with mappings that fail, info-cap
in both layouts, --dma-limit, snapshot into a temporary directory, and strings that are not
UTF-8. Every document must:
  - be exactly one line (compact), and with --pretty parse to the same value, keys in order;
  - validate against the schema (draft 2020-12);
  - agree with itself where a schema cannot say it (errno name and number, range sizes, what
    ends each range covers the address next to it, exit status 1 exactly for a refusal or a
    failed check).
Then it proves the schema can fail: broken copies of real documents must not validate, each for
the reason it was broken. `verify` needs /dev/vfio, so its document is checked on a sample
built to json_output.cc's shape, not on a real run.

Exit status: 0 pass, 1 fail, 77 skipped (python3-jsonschema missing; CTest SKIP_RETURN_CODE).
"""

import concurrent.futures
import copy
import errno
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

SKIP = 77
WORKERS = 2  # the CI machine's cores; each run is a short process

# A map file with mappings that work and every way one fails: EEXIST (twice the same), EINVAL
# (misaligned, size 0, past the aperture, in an MSI window on x86, 2^64 bytes).
CHECK_MAP = ("# a VMM's plan, with mistakes\n"
             "0x100000 4K\n"
             "0x100000 4K\n"
             "0xfee00000 4K\n"
             "0x200800 4K\n"
             "0x300000 0\n"
             "0xfffffffffffff000 4K\n"
             "0x0 16EiB\n")
GOOD_MAP = "0x100000 4K\n0x400000 64K\n"

# A host whose MSIs are not isolated: type1 and iommufd refuse the attach with EPERM
# (tool/tool_test.cc, UnisolatedMsiFailsTheAttachWithWhatToDo).
REFUSED_TOML = """msi-isolated = false
[[iommu]]
name = "v"
driver = "virtio"
address-bits = 48
[[group]]
id = 1
iommu = "v"
[[group.device]]
bdf = "0000:00:03.0"
"""

# The edges: a platform (non-PCI) device, a known device, a kernel driver's mask, a stale hint,
# a firmware region with its source, a unit whose aperture nobody can derive, a mapping budget,
# a RAM top above the usable space, unsafe interrupts allowed.
EDGE_TOML = """kernel = "6.12"
ram-top = "0x1ffffffffffff"
dma-entry-limit = 2
msi-isolated = false
allow-unsafe-interrupts = true
[[iommu]]
name = "smmu0"
driver = "arm-smmu-v3"
address-bits = 48
page-sizes = "0x40201000"
[[iommu]]
name = "gen0"
driver = "generic"
[[group]]
id = 3
iommu = "smmu0"
[[group.device]]
name = "soc-dma-engine"
regions = [ { first = "0x80000000", last = "0x800fffff", type = "direct", source = "IORT RMR" } ]
[[group.device]]
bdf = "0000:05:00.0"
vendor = "0x168c"
device-id = "0x003c"
class = "0x028000"
driver = "ath10k_pci"
[[group.device]]
bdf = "0000:05:00.1"
class = "0x020000"
driver = "ixgbe"
dma-mask-bits = 39
[[group]]
id = 4
iommu = "gen0"
type = "identity"
[[group.device]]
bdf = "0000:06:00.0"
driver = "vfio-pci"
dma-mask-bits = 64
"""

POLICIES = ["kernel", "rfc", "rfc-fixed", "effective"]


class Job:
    """One run of the command: its arguments (after --format json), its stdin, and the exit
    statuses it may end with."""

    def __init__(self, label, args, stdin="", statuses=(0,), pretty=False, expect=None):
        self.label = label
        self.args = args
        self.stdin = stdin
        self.statuses = statuses
        self.pretty = pretty  # also run it with --pretty and compare
        self.expect = expect  # a function(doc) -> list of problems, for this job only


def run(binary, args, stdin=""):
    argv = [os.fsencode(binary), b"--format", b"json"] + [os.fsencode(a) for a in args]
    p = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def pairs(text):
    """The document with every object as a list of (key, value): key order and duplicate keys
    are visible."""
    return json.loads(text, object_pairs_hook=lambda kv: ("object", kv))


def parse(text, problems):
    def unique(kv):
        keys = [k for k, _ in kv]
        if len(keys) != len(set(keys)):
            problems.append("duplicate keys in one object: %s" % keys)
        return dict(kv)
    return json.loads(text, object_pairs_hook=unique)


def pointer(path):
    return "/" + "/".join(str(p) for p in path)


def h(s):
    return int(s, 16)


# ---- what the schema cannot say ---------------------------------------------------------------

def errno_agrees(err):
    names = {n for n in dir(errno) if n.startswith("E") and getattr(errno, n) == err["code"]}
    if err["errno"] not in names:
        return ["errno %s does not name code %d (%s)" % (err["errno"], err["code"], sorted(names))]
    return []


def coherence(doc, status, command):
    """Problems with a valid document that a schema cannot express."""
    out = []
    if doc.get("command") != command:
        out.append("command is %r, the run was %r" % (doc.get("command"), command))
    failed = doc.get("refused") is not None or doc.get("ok") is False
    if command == "assignable":
        failed = not all(v["accepted"] for v in doc["verdicts"])
        for v in doc["verdicts"]:
            if v["accepted"] == any(f["blocks"] for f in v["findings"]):
                out.append("%s: accepted=%s disagrees with its findings" % (v["rules"], v["accepted"]))
            for f in v["findings"]:
                if f["errno"]:
                    out += errno_agrees(f["errno"])
    if (status == 1) != failed:
        out.append("exit status %d but refused=%s ok=%s" %
                   (status, doc.get("refused") is not None, doc.get("ok")))
    if doc.get("refused"):
        out += errno_agrees(doc["refused"])
    for m in doc.get("mappings", []):
        if m["refused"]:
            out += errno_agrees(m["refused"])
    previous_last = -2
    for r in doc.get("ranges", []) if command == "ranges" else []:
        first, last = h(r["first"]), h(r["last"])
        if first > last or first <= previous_last + 1:
            out.append("range %s-%s is empty, unsorted or touches the one before" %
                       (r["first"], r["last"]))
        previous_last = last
        if h(r["size"]) != last - first + 1:
            out.append("range %s-%s has size %s" % (r["first"], r["last"], r["size"]))
        for side, address in (("below", first - 1), ("above", last + 1)):
            for s in r[side]:
                if not h(s["first"]) <= address <= h(s["last"]):
                    out.append("%s stop %s-%s does not cover %#x" %
                               (side, s["first"], s["last"], address))
    for g in doc.get("groups", []) if command == "regions" else []:
        for x in g["regions"] + ([g["aperture"]] if g["aperture"] else []):
            if h(x["first"]) > h(x["last"]):
                out.append("group %d: %s > %s" % (g["id"], x["first"], x["last"]))
    if command == "info-cap" and not doc.get("refused"):
        if len(doc["bytes"]) != 2 * doc["argsz"]:
            out.append("bytes holds %d bytes, argsz is %d" % (len(doc["bytes"]) // 2, doc["argsz"]))
        for u in doc["undefined"]:
            if not u["first"] <= u["last"] < doc["argsz"]:
                out.append("undefined bytes %d-%d outside the reply" % (u["first"], u["last"]))
    return out


def dma_limit_stop(device):
    """For a --dma-limit run: some range must say it ends at that device's limit."""
    def expect(doc):
        if doc["refused"]:
            return []  # the container is refused (assignability): no ranges to end
        for r in doc["ranges"]:
            for s in r["above"]:
                if any(p["origin"] == "dma-limit" and device in p["detail"]
                       for p in s["provenance"]):
                    if doc["rules"] == "iommufd" and s["device"] != device:
                        return ["the dma-limit stop names device %r, not %r" % (s["device"], device)]
                    return []
        return ["no range ends at the DMA limit of %s" % device]
    return expect


def refused_with(name):
    def expect(doc):
        got = (doc.get("refused") or {}).get("errno")
        return [] if got == name else ["refused with %r, expected %r" % (got, name)]
    return expect


def repaired_note(doc):
    if not any("U+FFFD" in n for n in doc.get("notes", [])):
        return ["a source that is not UTF-8 was not noted"]
    if "\ufffd" not in doc["source"]:
        return ["the bad byte of the source is not U+FFFD"]
    return []


# ---- the runs ---------------------------------------------------------------------------------

def host_jobs(label, host_args, ids, pci_device):
    """Every command that applies to a host with groups `ids` (from its list)."""
    jobs = [Job(label + " list " + str(ids[0]), host_args + ["list", str(ids[0])])]
    for policy in POLICIES:
        jobs.append(Job("%s --policy %s regions" % (label, policy),
                        host_args + ["--policy", policy, "regions"], pretty=policy == "kernel"))
        # All groups in one container: it may be refused (different apertures, drivers).
        jobs.append(Job("%s --policy %s ranges ALL" % (label, policy),
                        host_args + ["--policy", policy, "ranges"] + [str(i) for i in ids],
                        statuses=(0, 1)))
    # iommufd keeps every device's regions: the container of all groups shows every device's.
    jobs.append(Job(label + " ranges --iommufd ALL",
                    host_args + ["ranges", "--iommufd"] + [str(i) for i in ids], statuses=(0, 1)))
    for i in ids:
        jobs.append(Job("%s ranges %d" % (label, i), host_args + ["ranges", str(i)],
                        statuses=(0, 1), pretty=i == ids[-1]))
    last = str(ids[-1])
    jobs.append(Job(label + " ranges --iommufd " + last, host_args + ["ranges", "--iommufd", last],
                    statuses=(0, 1)))
    jobs.append(Job(label + " check (failing)", host_args + ["check", last, "--map", "-"],
                    stdin=CHECK_MAP, statuses=(1,), pretty=True))
    jobs.append(Job(label + " check (good)", host_args + ["check", last, "--map", "-"],
                    stdin=GOOD_MAP, statuses=(0, 1)))
    jobs.append(Job(label + " info-cap", host_args + ["info-cap", last], statuses=(0, 1),
                    pretty=True))
    jobs.append(Job(label + " assignable ALL", host_args + ["assignable"] + [str(i) for i in ids],
                    statuses=(0, 1), pretty=True))
    jobs.append(Job(label + " info-cap --layout packed",
                    host_args + ["info-cap", "--layout", "packed", last], statuses=(0, 1)))
    if pci_device:
        # A VM with RAM, a DIMM, an ivshmem BAR and a BAR of its device (vm-check).
        jobs.append(Job(label + " vm-check", host_args + [
            "vm-check", "--host-phys-bits", "46", "--host-cpu-vendor", "intel", "--bar",
            pci_device[1] + "=16G", "--", "-M", "pc-q35-7.2", "-m", "8G,slots=2,maxmem=64G",
            "-cpu", "host", "-bios", "OVMF.fd", "-object", "memory-backend-ram,id=d0,size=2G",
            "-device", "pc-dimm,memdev=d0", "-object", "memory-backend-ram,id=lg,size=32M",
            "-device", "ivshmem-plain,memdev=lg", "-device", "vfio-pci,host=" + pci_device[1]],
            statuses=(0, 1), pretty=True))
        # 36 bits: below every aperture here, so a range ends at it (unless another device of
        # the group has a lower limit: then only the documents are checked).
        limit = host_args + ["--dma-limit", pci_device[1] + "=36"]
        jobs.append(Job(label + " --dma-limit list", limit + ["list"]))
        jobs.append(Job(label + " --dma-limit regions", limit + ["regions", str(pci_device[0])]))
        for extra in ([], ["--iommufd"]):
            jobs.append(Job("%s --dma-limit ranges %s%d" % (label, " ".join(extra + [""]),
                                                             pci_device[0]),
                            limit + ["ranges"] + extra + [str(pci_device[0])], statuses=(0, 1),
                            expect=dma_limit_stop(pci_device[1]) if pci_device[2] else None))
    return jobs


class Checker:
    def __init__(self, binary, validator):
        self.binary = binary
        self.validator = validator
        self.failures = []
        self.documents = 0
        self.by_command = {}

    def fail(self, label, message):
        self.failures.append("%s: %s" % (label, message))

    def check_text(self, job, status, out, err):
        """Everything about one compact run; returns the document or None."""
        if status not in job.statuses:
            self.fail(job.label, "exit status %d, expected %s; stderr: %s" %
                      (status, job.statuses, err.decode(errors="replace").strip()))
            return None
        if status == 2:  # allowed only where the host has no IOMMU: no answer, and why
            if out or b"no IOMMU groups" not in err:
                self.fail(job.label, "exit 2 without 'no IOMMU groups' alone: %r %r" %
                          (out[:100], err[:300]))
            return None
        if err:
            self.fail(job.label, "an answer with something on stderr: %r" % err[:300])
        text = out.decode("utf-8", errors="strict")
        if not text.endswith("\n") or text.count("\n") != 1:
            self.fail(job.label, "compact JSON is not exactly one line (%d newlines)" %
                      text.count("\n"))
            return None
        problems = []
        doc = parse(text, problems)
        command = next(a for a in job.args
                       if a in ("list", "regions", "ranges", "check", "info-cap", "assignable",
                                "snapshot", "vm-check"))
        errors = sorted(self.validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errors[:5]:
            problems.append("schema: %s at %s" % (e.message[:300], pointer(e.absolute_path)))
        if not errors:
            problems += coherence(doc, status, command)
            if job.expect:
                problems += job.expect(doc)
        for p in problems:
            self.fail(job.label, p)
        self.documents += 1
        self.by_command[command] = self.by_command.get(command, 0) + 1
        return doc

    def check_pretty(self, job, compact_out, out):
        text = out.decode()
        lines = text.split("\n")
        if len(lines) < 3 or not lines[1].startswith("  \"") or lines[1].startswith("   "):
            self.fail(job.label + " --pretty", "not indented by two spaces on several lines")
        if pairs(text) != pairs(compact_out.decode()):
            self.fail(job.label + " --pretty", "does not parse to the compact value, keys in order")

    def run_all(self, jobs):
        def one(job):
            compact = run(self.binary, job.args, job.stdin)
            pretty = run(self.binary, ["--pretty"] + job.args, job.stdin) if job.pretty else None
            return job, compact, pretty

        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(one, jobs))
        docs = []
        for job, (status, out, err), pretty in results:
            doc = self.check_text(job, status, out, err)
            docs.append(doc)
            if doc is not None and pretty is not None:
                if pretty[0] != status:
                    self.fail(job.label + " --pretty", "exit status %d, compact %d" %
                              (pretty[0], status))
                self.check_pretty(job, out, pretty[1])
        return docs


# ---- broken documents: the schema must refuse each, for its reason ----------------------------

def broken_documents(real, sample_verify):
    """(what, document, the pointer an error must be at or below): each a real document with
    one mistake of the kind a back-end change could make."""
    out = []

    def add(what, source, change, where):
        if source is None:
            return
        doc = copy.deepcopy(source)
        change(doc)
        out.append((what, doc, where(doc) if callable(where) else where))

    def failing(doc):
        return next(i for i, m in enumerate(doc["mappings"]) if not m["ok"])

    def device(doc):
        return doc["groups"][0]["devices"][0]

    lst, ranges, check = real.get("list"), real.get("ranges"), real.get("check")
    regions, info_cap = real.get("regions"), real.get("info-cap")
    add("format version 1", lst, lambda d: d.update(iovamap=1), "/iovamap")
    add("an unknown command", lst, lambda d: d.update(command="lsit"), "/command")
    add("no notes", lst, lambda d: d.pop("notes"), "/")
    add("a class of five digits (version 1's spelling)", lst,
        lambda d: device(d).update({"class": "0x20000"}), "/groups/0/devices/0/class")
    add("a vendor without 0x", lst, lambda d: device(d).update(vendor="8086"),
        "/groups/0/devices/0/vendor")
    add("a field the format does not have", lst, lambda d: device(d).update(reason="x"),
        "/groups/0/devices/0")
    add("a limit that binds VFIO from a kernel driver", lst,
        lambda d: device(d)["dma_limit"].update(source="kernel-driver", bits=32,
                                                applies_to_vfio=True, stale_hint_bits=None),
        "/groups/0/devices/0/dma_limit/applies_to_vfio")
    add("a DMA mask of 65 bits", lst, lambda d: device(d).update(dma_mask_bits=65),
        "/groups/0/devices/0/dma_mask_bits")
    add("a range without its size", ranges, lambda d: d["ranges"][0].pop("size"), "/ranges/0")
    add("an address as a number", ranges, lambda d: d["ranges"][0].update(first=0),
        "/ranges/0/first")
    add("a zero-padded address (sysfs's spelling)", ranges,
        lambda d: d["ranges"][1].update(first="0x%016x" % h(d["ranges"][1]["first"])),
        "/ranges/1/first")
    add("an upper-case size", ranges, lambda d: d["ranges"][0].update(size="0xFEE00000"),
        "/ranges/0/size")
    add("a stop of an unknown kind", ranges,
        lambda d: d["ranges"][0]["above"][0].update(kind="dma-limit"), "/ranges/0/above/0/kind")
    add("a type1 stop that names a device", ranges,
        lambda d: d["ranges"][0]["above"][0].update(device="0000:00:03.0"),
        "/ranges/0/above/0/device")
    add("nothing ends a range that stops below 2^64-1", ranges,
        lambda d: d["ranges"][0].update(above=[]), "/ranges/0/above")
    add("a stop below address 0", ranges,
        lambda d: d["ranges"][0].update(below=d["ranges"][0]["above"]), "/ranges/0/below")
    add("a refusal as a string (version 1's reason)", ranges,
        lambda d: d.update(refused="EPERM: MSIs not isolated"), "/refused")
    add("a refusal with usable ranges", real.get("ranges-refused"),
        lambda d: d.update(ranges=copy.deepcopy(ranges["ranges"])), "/ranges")
    add("a refusal of kind input", real.get("info-cap-refused"),
        lambda d: d["refused"].update(kind="input"), "/refused/kind")
    add("a refusal without its errno", real.get("check-refused"),
        lambda d: d["refused"].pop("errno"), "/refused")
    add("a refused check with mappings", real.get("check-refused"),
        lambda d: d.update(mappings=copy.deepcopy(check["mappings"])), "/mappings")
    add("a verdict with version 1's reason", check,
        lambda d: d["mappings"][failing(d)].update(reason="x"),
        lambda d: "/mappings/%d" % failing(d))
    add("errno 0", check,
        lambda d: d["mappings"][failing(d)]["refused"].update(errno="0", code=0),
        lambda d: "/mappings/%d/refused" % failing(d))
    add("a failed mapping without its refusal", check,
        lambda d: d["mappings"][failing(d)].update(refused=None),
        lambda d: "/mappings/%d/refused" % failing(d))
    add("ok although a mapping failed", check, lambda d: d.update(ok=True), "/mappings")
    add("a region type that does not exist", regions,
        lambda d: d["groups"][0]["regions"][0].update(type="msi-sw"), "/groups/0/regions/0/type")
    add("a provenance origin that does not exist", regions,
        lambda d: d["groups"][0]["regions"][0]["provenance"][0].update(origin="kernel"),
        "/groups/0/regions/0/provenance/0/origin")
    add("a policy that does not exist", regions, lambda d: d.update(policy="lax"), "/policy")
    add("reply bytes of odd length", info_cap, lambda d: d.update(bytes=d["bytes"] + "0"),
        "/bytes")
    add("a count as a string", real.get("snapshot"), lambda d: d.update(files="88"), "/files")
    add("a section ok with a mismatch", sample_verify,
        lambda d: d["sections"][0]["checks"][0].update(ok=False), "/sections/0/checks")
    return out


def verify_sample():
    """verify's document as json_output.cc writes it (the lab's intel39-6.12 group 7 answer);
    no real run: verify asks /dev/vfio."""
    check = lambda what, kernel, model, ok=True, skipped=False, kernel_errno=None, \
        model_errno=None: {
        "what": what, "kernel": kernel, "model": model, "ok": ok, "skipped": skipped,
        "kernel_errno": kernel_errno, "model_errno": model_errno}
    einval = {"errno": "EINVAL", "code": 22}
    return {
        "iovamap": 2, "command": "verify", "source": "live host", "kernel": "6.12",
        "policy": "effective", "groups": [7], "ok": True,
        "sections": [
            {"title": "VFIO type1, groups 7 (with MAP_DMA probes)", "ok": True, "checks": [
                check("VFIO IOVA ranges", "[0x0, 0xfedfffff], [0xfef00000, 0x7fffffffff]",
                      "[0x0, 0xfedfffff], [0xfef00000, 0x7fffffffff]"),
                check("iova_pgsizes", "0x40201000", "0x40201000"),
                check("MAP_DMA 0x00000000fee00000", "rejected (EINVAL)", "rejected (EINVAL)",
                      kernel_errno=einval, model_errno=einval),
                check("dma_avail", "65535", "", ok=False, skipped=True)]},
            {"title": "policy effective", "ok": True, "checks": []}],
        "notes": []}


# ---- main -------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    binary, source_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    try:
        from jsonschema import Draft202012Validator  # python3-jsonschema 4.0 and later
    except ImportError:
        print("SKIP: python3-jsonschema (4.0 or later, for draft 2020-12) is not installed; "
              "scripts/setup.sh installs it")
        return SKIP
    started = time.monotonic()
    with open(os.path.join(source_dir, "docs", "iovamap.schema.json")) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    checker = Checker(binary, validator)
    data = os.path.join(source_dir, "tests", "data")

    with tempfile.TemporaryDirectory(prefix="iovamap-schema-") as tmp:
        topologies = {}
        for name, text in (("refused.toml", REFUSED_TOML), ("edge.toml", EDGE_TOML)):
            topologies[name] = os.path.join(tmp, name)
            with open(topologies[name], "w") as f:
                f.write(text)

        # 1. Every host's list: what it has, and which of its hosts have no IOMMU at all.
        hosts = [("snapshot " + os.path.relpath(r, data), ["--root", r])
                 for r in sorted(glob.glob(os.path.join(data, "snapshots", "*", "root")) +
                                 glob.glob(os.path.join(data, "lab-*", "root")))]
        hosts += [("topology " + os.path.basename(t), ["--topology", t])
                  for t in sorted(glob.glob(os.path.join(source_dir, "examples", "*.toml")))]
        hosts.append(("topology edge.toml", ["--topology", topologies["edge.toml"]]))
        list_jobs = [Job(label + " list", args + ["list"], statuses=(0, 2), pretty=True)
                     for label, args in hosts]
        lists = checker.run_all(list_jobs)
        no_iommu = [job.label for job, doc in zip(list_jobs, lists) if doc is None]
        jobs = []
        for (label, args), doc in zip(hosts, lists):
            if doc is None or not doc["groups"]:
                continue
            ids = [g["id"] for g in doc["groups"]]
            last = doc["groups"][-1]
            pci = next(((last["id"], d["name"]) for d in last["devices"] if d["pci"]), None)
            if pci:
                lower = [d for d in last["devices"] if d["name"] != pci[1] and
                         d["dma_limit"]["applies_to_vfio"] and d["dma_limit"]["bits"] <= 36]
                pci = pci + (not lower,)
            jobs += host_jobs(label, args, ids, pci)
        if len(no_iommu) != 3:
            checker.fail("hosts", "expected the three lab-noiommu captures to have no JSON "
                         "(no IOMMU groups), got %s" % no_iommu)

        # 2. A refused container: for every command that needs one, the refusal is the answer.
        refused = ["--topology", topologies["refused.toml"]]
        for command in (["ranges", "1"], ["ranges", "--iommufd", "1"], ["info-cap", "1"],
                        ["check", "1", "--map", "-"]):
            jobs.append(Job("refused " + " ".join(command), refused + command, stdin=GOOD_MAP,
                            statuses=(1,), pretty=True, expect=refused_with("EPERM")))
        edge = ["--topology", topologies["edge.toml"]]
        jobs.append(Job("edge check past the mapping budget", edge + ["check", "3", "--map", "-"],
                        stdin="0x100000 4K\n0x200000 4K\n0x300000 4K\n", statuses=(1,)))

        # 3. Strings that are not UTF-8 (a snapshot path): repaired, and noted, in every command.
        bad = os.path.join(os.fsencode(tmp), b"not-utf8-\xff")
        os.symlink(os.path.join(data, "snapshots", "6.12-intel39", "root"), bad)
        for command in (["list"], ["ranges", "7"], ["info-cap", "7"], ["regions", "7"]):
            jobs.append(Job("not UTF-8 " + command[0], ["--root", bad] + command,
                            expect=repaired_note))

        docs = checker.run_all(jobs)

        # 4. snapshot into a new directory, then the snapshot read back.
        snap = os.path.join(tmp, "snap")
        snapshot_job = Job("snapshot", ["--root", os.path.join(data, "snapshots", "6.12-amd",
                                                                "root"), "snapshot", snap])
        snapshot_doc = checker.run_all([snapshot_job])[0]
        checker.run_all([Job("snapshot read back", ["--root", snap, "ranges", "7"])])

    # 5. verify: its shape, on a sample (no /dev/vfio here).
    sample = verify_sample()
    for e in validator.iter_errors(sample):
        checker.fail("verify sample", "schema: %s at %s" % (e.message, pointer(e.absolute_path)))

    # 6. The schema can fail: broken copies of real documents.
    real = {}
    for job, doc in zip(jobs, docs):
        if doc is None:
            continue
        if doc["command"] in ("assignable", "vm-check"):
            continue  # not among the documents broken below
        key = doc["command"] + ("-refused" if doc.get("refused") else "")
        if key == "ranges" and doc["rules"] != "vfio-type1":
            continue
        if key == "ranges" and not (len(doc["ranges"]) >= 2 and doc["ranges"][0]["above"] and
                                    doc["ranges"][0]["first"] == "0x0"):
            continue
        if key == "check" and doc["ok"]:
            continue
        real.setdefault(key, doc)
    real["list"] = next(d for d in lists if d)
    real["snapshot"] = snapshot_doc
    wanted = {"list", "regions", "ranges", "ranges-refused", "check", "check-refused",
              "info-cap", "info-cap-refused", "snapshot"}
    if set(real) != wanted:
        checker.fail("broken documents", "no real document to break for %s" %
                     sorted(wanted - set(real)))
    broken = broken_documents(real, sample)
    for what, doc, where in broken:
        errors = list(validator.iter_errors(doc))
        if not errors:
            checker.fail("broken document", "%s: validates, the schema cannot catch it" % what)
        elif where and not any(pointer(e.absolute_path).startswith(where.rstrip("/") or "/")
                               for e in errors):
            checker.fail("broken document", "%s: refused, but not at %s: %s" %
                         (what, where, [(pointer(e.absolute_path), e.message[:120])
                                        for e in errors]))

    elapsed = time.monotonic() - started
    for f in checker.failures[:60]:
        print("FAIL " + f)
    if len(checker.failures) > 60:
        print("FAIL ... and %d more" % (len(checker.failures) - 60))
    print("%d documents from the real command checked (%s), %d with --pretty too; "
          "%d broken documents tried; %d hosts without an IOMMU (no JSON); %.1f s" %
          (checker.documents,
           ", ".join("%s %d" % kv for kv in sorted(checker.by_command.items())),
           sum(1 for j in list_jobs + jobs if j.pretty), len(broken), len(no_iommu), elapsed))
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
