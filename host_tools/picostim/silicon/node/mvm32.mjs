// Run tests/target/run.py on a 32-bit MicroPython VM: the webassembly port
// (npm @micropython/micropython-webassembly-pyscript, pinned in package.json).
//
//     node host_tools/picostim/silicon/node/mvm32.mjs [-k SUBSTRING]
//
// Like the RP2040, this VM has 32-bit words: sys.maxsize is 2**31-1, so an
// int >= 2**30 is boxed and allocates, and micropython.heap_lock() turns that
// into MemoryError. The unix VM of tier `target` is 64-bit and cannot show it.
//
// The build has no NODEFS, so the files run.py needs (tests/target, the host
// package with fakehw and consolerig, firmware/ and boards/) are copied into
// the VM's MEMFS under /repo with the same relative paths, and run.py runs
// with /repo as its working directory. Output is forwarded line by line; the
// exit status is run.py's (0 all passed, 1 a failure), 2 if the VM itself
// failed or is not a 32-bit one, 124 on timeout.
//
// The VM runs in a worker thread so that the main thread can bound the run:
// a synchronous wasm call cannot be interrupted from its own thread.

import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import path from "node:path";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../../../..");

// The VM starts with the RP2040 port's MicroPython heap, about 236 KB. It
// cannot stay that size: this port never collects garbage inside a call from
// JS (wasm cannot scan its own C stack for roots, so gc_collect() only marks a
// collection pending for the next top-level call) and grows its heap instead
// (split heap, up to 128 MB a step). run.py is one call, so the heap ends at
// what the whole run allocated (over 100 MB): the size is reported, not
// enforced, and this tier says nothing about fitting the RP2040's RAM. What it
// shows is 32-bit ints; heap_lock works as on the board, since a locked heap
// fails an allocation before it would grow.
const HEAP_BYTES = 236 * 1024;
const PYSTACK_WORDS = 2048;
const TIMEOUT_S = Number(process.env.MVM32_TIMEOUT_S) || 300; // the whole run takes about 15 s

// What run.py reads, relative to the repo root: [folder, file suffixes].
const TREES = [
  ["tests/target", [".py"]],
  ["host_tools/picostim", [".py"]],
  ["firmware", [".py"]],
  ["boards", [".json"]],
];

function* walk(rel, suffixes) {
  for (const ent of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__" || ent.name === "node_modules") continue;
    const child = rel + "/" + ent.name;
    if (ent.isDirectory()) yield* walk(child, suffixes);
    else if (ent.isFile() && suffixes.some((s) => ent.name.endsWith(s))) yield child;
  }
}

async function runInWorker({ args }) {
  const out = (line) => parentPort.postMessage({ out: line });
  let capture = null; // while set, stdout lines go here instead of out
  const { loadMicroPython } = await import(
    path.join(HERE, "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs")
  );
  const mp = await loadMicroPython({
    heapsize: HEAP_BYTES,
    pystack: PYSTACK_WORDS,
    stdout: (line) => (capture ? capture.push(line) : out(line)),
    stderr: (line) => parentPort.postMessage({ err: line }),
  });
  let files = 0;
  for (const [tree, suffixes] of TREES) {
    for (const rel of walk(tree, suffixes)) {
      const dst = "/repo/" + rel;
      mp.FS.mkdirTree(path.posix.dirname(dst));
      mp.FS.writeFile(dst, fs.readFileSync(path.join(REPO, rel)));
      files += 1;
    }
  }
  const heapTotal = () => {
    capture = [];
    mp.runPython("import micropython\nmicropython.mem_info()");
    const m = capture.join("\n").match(/GC: total: (\d+)/);
    capture = null;
    return m ? Number(m[1]) : -1;
  };
  const heap0 = heapTotal();
  const maxsize = mp.pyimport("sys").maxsize;
  out("mvm32: " + files + " files in MEMFS /repo, heap " + heap0 + " bytes, sys.maxsize " + maxsize);
  if (maxsize !== 2 ** 31 - 1) {
    out("mvm32: FAIL this VM is not a 32-bit one (sys.maxsize " + maxsize + ", not 2**31-1)");
    parentPort.postMessage({ rc: 2 });
    return;
  }
  mp.runPython(
    [
      "import os, sys",
      "os.chdir('/repo')",
      // sys.argv cannot be rebound on this port, but the list can be refilled.
      "while sys.argv: sys.argv.pop()",
      "for _a in " + JSON.stringify(["tests/target/run.py", ...args]) + ": sys.argv.append(_a)",
      "_rc = 0",
      "try:",
      "    exec(open('tests/target/run.py').read(), {'__name__': '__main__'})",
      "except SystemExit as e:",
      "    _rc = e.args[0] if e.args else 0",
    ].join("\n"),
  );
  let rc = mp.globals.get("_rc");
  rc = typeof rc === "number" ? rc : 1;
  out("mvm32: the heap grew from " + heap0 + " to " + heapTotal() + " bytes (no collection inside a call)");
  parentPort.postMessage({ rc });
}

if (isMainThread) {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { args: process.argv.slice(2) } });
  const timer = setTimeout(() => {
    console.log("mvm32: run.py did not finish within " + TIMEOUT_S + " s");
    process.exit(124);
  }, TIMEOUT_S * 1000);
  worker.on("message", (msg) => {
    if (msg.out !== undefined) process.stdout.write(msg.out + "\n");
    else if (msg.err !== undefined) process.stderr.write(msg.err + "\n");
    else if (msg.rc !== undefined) {
      clearTimeout(timer);
      process.exit(msg.rc);
    }
  });
  worker.on("error", (e) => {
    console.log("mvm32: the VM failed: " + (e && e.stack ? e.stack : e));
    process.exit(2);
  });
  worker.on("exit", (code) => {
    console.log("mvm32: the VM stopped without a result (worker exit " + code + ")");
    process.exit(2);
  });
} else {
  await runInWorker(workerData);
}
