// A second-language client of the election services: checks the health of ElectionService and
// reads an election with @grpc/grpc-js from the proto files alone.
//   node election_client.mjs --address HOST:PORT --proto-root DIR --health-proto FILE --election ID
// Prints one line of JSON and exits 0; any failure: a message on stderr and exit 1.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import fs from "node:fs";
import path from "node:path";

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ["address", "proto-root", "health-proto", "election"]) {
    if (!out[k]) throw new Error(`missing --${k}`);
  }
  return out;
}

const LOAD = { keepCase: false, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true };

function loadHealth(file) {
  if (file.endsWith(".proto")) return protoLoader.loadSync(file, LOAD);
  return protoLoader.loadFileDescriptorSetFromBuffer(fs.readFileSync(file), LOAD);
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 5000 }, (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

async function main() {
  const a = args();
  const defs = protoLoader.loadSync(path.join("ownervote", "v1", "election.proto"), { ...LOAD, includeDirs: [a["proto-root"]] });
  const v1 = grpc.loadPackageDefinition(defs).ownervote.v1;
  const healthPkg = grpc.loadPackageDefinition(loadHealth(a["health-proto"])).grpc.health.v1;
  const creds = grpc.credentials.createInsecure();
  const health = new healthPkg.Health(a.address, creds);
  const elections = new v1.ElectionService(a.address, creds);
  const h = await call(health, "Check", { service: "ownervote.v1.ElectionService" });
  if (h.status !== "SERVING") throw new Error(`health ${h.status}`);
  const { election } = await call(elections, "GetElection", { electionId: a.election });
  let notFound = 0;
  try {
    await call(elections, "GetElection", { electionId: "no-such-election" });
  } catch (err) {
    notFound = err.code;
  }
  const d = election.definition;
  console.log(JSON.stringify({
    health: h.status,
    election_id: d.electionId,
    state: election.state,
    motion: d.motion,
    options: d.contest.options,
    rule: d.rule.preset,
    open_time: d.openTime.seconds,
    guardians: d.guardians,
    threshold: d.threshold,
    roll_hash_hex: election.rollHash.toString("hex"),
    total_owners: election.totalOwners,
    not_found_code: notFound,
  }));
  health.close();
  elections.close();
}

main().catch((err) => {
  process.stderr.write(`election_client: ${err.message}\n`);
  process.exit(1);
});
