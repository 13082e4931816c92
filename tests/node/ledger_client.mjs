// A second-language client of the ledger's gRPC contract (Node 20, @grpc/grpc-js).
//
//   node tests/node/ledger_client.mjs --address HOST:PORT --proto-root DIR --health-proto FILE
//
// Loads ownervote/v1/ledger.proto from --proto-root and the standard gRPC health contract from
// --health-proto: either a .proto source file, or a serialized google.protobuf.FileDescriptorSet
// (any other extension; grpcio-health-checking ships health_pb2 but not health.proto, so the
// pytest test writes the descriptor set of grpc_health.v1.health_pb2). Then it checks health,
// reads the log's identity, its latest checkpoint and a few entries, asks for an inclusion proof
// beyond the tree size, and prints one line of JSON on stdout. Any failure: a message on stderr
// and exit status 1. Every call carries a deadline.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { parseArgs } from "node:util";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const CALL_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000;
const LEDGER_SERVICE = "ownervote.v1.LedgerService";

// bytes -> Buffer (the default), 64-bit integers -> decimal strings (converted below with a
// range check), enums -> names, unset scalars -> their defaults, oneofs -> a virtual field.
const LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

class CheckFailed extends Error {}

function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function deadline() {
  return new Date(Date.now() + CALL_TIMEOUT_MS);
}

function u64(value, what) {
  check(typeof value === "string" && /^[0-9]+$/.test(value), `${what}: not a uint64: ${value}`);
  const n = BigInt(value);
  check(n <= BigInt(Number.MAX_SAFE_INTEGER), `${what}: ${value} beyond 2^53`);
  return Number(n);
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline() }, (err, response) => {
      if (err) {
        err.rpcMethod = method;
        reject(err);
      } else {
        resolve(response);
      }
    });
  });
}

function waitForReady(client) {
  return new Promise((resolve, reject) => {
    client.waitForReady(new Date(Date.now() + CONNECT_TIMEOUT_MS), (err) =>
      err ? reject(new Error(`cannot connect: ${err.message}`)) : resolve());
  });
}

function loadHealth(file) {
  if (file.endsWith(".proto")) {
    return protoLoader.loadSync(basename(file), { ...LOADER_OPTIONS, includeDirs: [dirname(file)] });
  }
  return protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(file), LOADER_OPTIONS);
}

function leafHash(entry) {
  return createHash("sha256").update(Buffer.from([0])).update(entry).digest();
}

async function run(opts) {
  const ledgerDef = protoLoader.loadSync("ownervote/v1/ledger.proto", {
    ...LOADER_OPTIONS,
    includeDirs: [opts["proto-root"]],
  });
  const healthDef = loadHealth(opts["health-proto"]);
  const ledgerPkg = grpc.loadPackageDefinition(ledgerDef);
  const healthPkg = grpc.loadPackageDefinition(healthDef);
  check(ledgerPkg.ownervote?.v1?.LedgerService, `${LEDGER_SERVICE} not in ledger.proto`);
  check(healthPkg.grpc?.health?.v1?.Health, "grpc.health.v1.Health not in the health contract");

  const creds = grpc.credentials.createInsecure();
  const health = new healthPkg.grpc.health.v1.Health(opts.address, creds);
  // Share the channel: one connection for both services.
  const ledger = new ledgerPkg.ownervote.v1.LedgerService(opts.address, creds, {
    channelOverride: health.getChannel(),
  });
  try {
    await waitForReady(health);

    // (a) health of the ledger service
    const h = await call(health, "Check", { service: LEDGER_SERVICE });
    check(h.status === "SERVING", `health of ${LEDGER_SERVICE}: ${h.status}, not SERVING`);

    // (b) the log's identity and its latest checkpoint. Without witnesses nothing is ever
    // co-signed, so ask for the latest checkpoint the log signed, co-signed or not.
    const info = await call(ledger, "GetLogInfo", {});
    check(typeof info.origin === "string" && info.origin.length > 0, "GetLogInfo: empty origin");
    check(typeof info.logVerifierKey === "string" && info.logVerifierKey.startsWith(`${info.origin}+`),
      `GetLogInfo: verifier key ${info.logVerifierKey} is not named after ${info.origin}`);
    check(Array.isArray(info.witnesses), "GetLogInfo: witnesses is not a list");
    check(Number.isInteger(info.quorum) && info.quorum <= info.witnesses.length,
      `GetLogInfo: quorum ${info.quorum} with ${info.witnesses.length} witnesses`);

    const cp = await call(ledger, "GetCheckpoint", { includeUncosigned: true });
    check(Buffer.isBuffer(cp.signedNote), "GetCheckpoint: signed_note is not bytes");
    const treeSize = u64(cp.treeSize, "GetCheckpoint.tree_size");
    check(typeof cp.cosigned === "boolean", "GetCheckpoint: cosigned is not a bool");
    // The note (C2SP tlog-checkpoint): origin line, size line, base64 root hash, blank line,
    // signature lines.
    const lines = cp.signedNote.toString("utf8").split("\n");
    check(lines[0] === info.origin, `checkpoint origin ${lines[0]} != log origin ${info.origin}`);
    check(lines[1] === String(treeSize), `checkpoint size line ${lines[1]} != tree_size ${treeSize}`);
    check(Buffer.from(lines[2] ?? "", "base64").length === 32, "checkpoint root is not 32 bytes");
    check(lines.some((l) => l.startsWith(`\u2014 ${info.origin} `)),
      "checkpoint carries no signature line of the log");
    check(treeSize >= 2, `tree size ${treeSize}: need at least 2 entries`);

    // (c) a couple of entries, and their leaf hashes recomputed (RFC 9162: SHA-256(0x00 || e))
    const got = await call(ledger, "GetEntries", { start: "0", count: 2 });
    check(u64(got.start, "GetEntries.start") === 0, `GetEntries: start ${got.start}`);
    check(got.entries.length === 2, `GetEntries: ${got.entries.length} entries, not 2`);
    check(got.leafHashes.length === 2, `GetEntries: ${got.leafHashes.length} leaf hashes, not 2`);
    check(u64(got.treeSize, "GetEntries.tree_size") >= treeSize, "GetEntries: tree shrank");
    got.entries.forEach((e, i) => {
      check(Buffer.isBuffer(e), `entry ${i} is not bytes`);
      check(leafHash(e).equals(got.leafHashes[i]), `entry ${i}: leaf hash mismatch`);
    });

    // (d) an inclusion proof for an index beyond the tree size must be refused
    let badIndexCode = null;
    try {
      await call(ledger, "GetInclusionProof", { index: String(treeSize), treeSize: String(treeSize) });
    } catch (err) {
      if (typeof err.code !== "number" || err.code === grpc.status.DEADLINE_EXCEEDED
          || err.code === grpc.status.UNAVAILABLE) throw err;
      badIndexCode = err.code;
    }
    check(badIndexCode === grpc.status.INVALID_ARGUMENT,
      `GetInclusionProof(index=${treeSize}, tree_size=${treeSize}): `
      + (badIndexCode === null ? "succeeded" : `status ${badIndexCode}`)
      + `, expected INVALID_ARGUMENT (${grpc.status.INVALID_ARGUMENT})`);

    return {
      health: h.status,
      origin: info.origin,
      quorum: info.quorum,
      witnesses: info.witnesses.length,
      tree_size: treeSize,
      cosigned: cp.cosigned,
      first_entry_hex: got.entries[0].toString("hex"),
      bad_index_code: badIndexCode,
    };
  } finally {
    ledger.close();
    health.close();
  }
}

function parse() {
  const { values } = parseArgs({
    options: {
      address: { type: "string" },
      "proto-root": { type: "string" },
      "health-proto": { type: "string" },
    },
    strict: true,
  });
  for (const name of ["address", "proto-root", "health-proto"]) {
    if (!values[name]) throw new CheckFailed(`missing --${name}`);
  }
  return values;
}

try {
  const result = await run(parse());
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = 0;
} catch (err) {
  const where = err.rpcMethod ? `${err.rpcMethod}: ` : "";
  const code = typeof err.code === "number" ? ` (gRPC status ${err.code})` : "";
  process.stderr.write(`ledger_client: ${where}${err.message}${code}\n`);
  process.exitCode = 1;
}
