// Share links: the program (files, requirements, runtime, lock digest) compressed into the URL fragment, which the
// browser never sends to the server. Versioned: "#v1.<base64url(deflate-raw(JSON))>". Secrets are never included.

export const VERSION = "v1";

function toBase64Url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function pipe(bytes, stream) {
  const response = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await response.arrayBuffer());
}

export async function encodeState(state) {
  const { files, main, requirements, runtime, lockDigest } = state;
  const json = JSON.stringify({ files, main, requirements, runtime, lockDigest });
  const packed = await pipe(new TextEncoder().encode(json), new CompressionStream("deflate-raw"));
  return `${VERSION}.${toBase64Url(packed)}`;
}

export async function decodeState(fragment) {
  const text = fragment.replace(/^#/, "");
  if (!text) return null;
  const [version, data] = text.split(".", 2);
  if (version !== VERSION || !data) throw new Error(`unsupported share link format ${JSON.stringify(version)}`);
  const json = await pipe(fromBase64Url(data), new DecompressionStream("deflate-raw"));
  return JSON.parse(new TextDecoder().decode(json));
}
