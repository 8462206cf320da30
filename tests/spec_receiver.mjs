// A webhook receiver written only from the Standard Webhooks specification (spec/standard-
// webhooks.md, "Signature scheme"), with nothing of this project: Node's own crypto, not the
// project's Python. It holds one `whpk_` public key and accepts a POST when
// - webhook-timestamp is within 5 minutes of now, and
// - one space-delimited entry of webhook-signature is `v1a,<base64 ed25519 signature>` that
//   verifies over `{webhook-id}.{webhook-timestamp}.{raw body}` with that key.
// It answers 204 (accepted) or 401, and GET / lists every POST it saw, verified or not.
//
//   node tests/spec_receiver.mjs PORT whpk_...
import crypto from "node:crypto";
import http from "node:http";

const [port, publicKeyText] = process.argv.slice(2);
// "base64 encoded, prefixed with whpk_": the 32 raw bytes of the ed25519 public key.
const raw = Buffer.from(publicKeyText.replace(/^whpk_/, ""), "base64");
const publicKey = crypto.createPublicKey({
  key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
  format: "jwk",
});
const TOLERANCE_S = 5 * 60;
const received = [];

function verified(headers, body) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"] ?? "";
  if (!id || !/^[0-9]+$/.test(timestamp ?? "")) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S) return false;
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    return (
      version === "v1a" &&
      signature !== undefined &&
      crypto.verify(null, signed, publicKey, Buffer.from(signature, "base64"))
    );
  });
}

http
  .createServer((request, response) => {
    if (request.method !== "POST") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(received));
      return;
    }
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const ok = verified(request.headers, body);
      received.push({
        webhook_id: request.headers["webhook-id"],
        webhook_timestamp: request.headers["webhook-timestamp"],
        webhook_signature: request.headers["webhook-signature"],
        verified: ok,
        body: body.toString("utf8"),
      });
      response.writeHead(ok ? 204 : 401);
      response.end();
    });
  })
  .listen(Number(port), "127.0.0.1");
