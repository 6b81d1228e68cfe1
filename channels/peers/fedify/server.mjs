// A Fedify ActivityPub server on loopback for kez-verify's ap channel tests
// (channels/peers/src/fedify.rs drives it).
//
//   node server.mjs [--host social.example] [--page-size 20] [--timeout 600]
//
// Listens on 127.0.0.1 on a free port and prints one ready line to stdout:
//   {"url":"http://127.0.0.1:PORT","host":"social.example"}
// Every URL it serves is written as https://<host>/…: clients reach it over plain HTTP with
// <host> mapped to 127.0.0.1:PORT.
//
// It serves WebFinger, actors (application/activity+json), outboxes (an OrderedCollection
// whose pages hold Create{Note} activities) and notes. Its state comes from JSON-lines
// commands on stdin; each command gets one JSON line back on stdout, in order:
//   {"op":"actor","username":"alice","name":"Alice","summary":"<p>…</p>",
//    "fields":[{"name":"KEZ","value":"<p>kez:z1:…</p>"}]}
//       → {"ok":true,"id":"https://social.example/users/alice"}   (again: replaces the actor)
//   {"op":"note","actor":"alice","content":"<p>…</p>","published":"2025-01-02T03:04:05Z",
//    "inReplyTo":"https://…","attributedTo":"https://…"}
//       → {"ok":true,"id":"https://social.example/users/alice/notes/1"}
//       The note and its Create go into alice's outbox, newest first. attributedTo (and the
//       Create's actor) default to alice's id; set them to put another account's post or
//       reply into the collection.
//   {"op":"webfinger","resource":"acct:alice@social.example","self":"https://other.example/u/a"}
//       → {"ok":true}  WebFinger for that resource answers this self link (any host) instead
//       of Fedify's own answer; "status":404 instead of "self" answers 404.
//   {"op":"raw","path":"/x","contentType":"application/activity+json","body":"{…}"}
//       → {"ok":true}  GET <path> answers body as it is (a forged actor, a broken document).
// Errors answer {"ok":false,"error":"…"}. The server exits on stdin EOF and after --timeout
// seconds whatever happens.

import http from "node:http";
import process from "node:process";
import readline from "node:readline";

import {
  createFederation,
  Create,
  MemoryKvStore,
  Note,
  Person,
  PropertyValue,
} from "@fedify/fedify";
import { Temporal } from "@js-temporal/polyfill";

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const HOST = arg("host", "social.example");
const PAGE_SIZE = Math.max(1, Number.parseInt(arg("page-size", "20"), 10) || 20);
const TIMEOUT_SECS = Math.max(1, Number.parseInt(arg("timeout", "600"), 10) || 600);
const ORIGIN = `https://${HOST}`;

// The hard self-timeout: never outlive a test run that forgot us.
setTimeout(() => process.exit(0), TIMEOUT_SECS * 1000);

/** username → { name, summary, fields: [{name, value}] } */
const actors = new Map();
/** username → [{ id, content, published, inReplyTo, attributedTo }], oldest first */
const notes = new Map();
/** resource → { self } | { status } */
const webfingers = new Map();
/** path → { contentType, body } */
const raws = new Map();

const federation = createFederation({ kv: new MemoryKvStore() });

function noteObject(ctx, username, note) {
  const actorId = ctx.getActorUri(username);
  return new Note({
    id: ctx.getObjectUri(Note, { identifier: username, id: String(note.id) }),
    attribution: note.attributedTo ? new URL(note.attributedTo) : actorId,
    content: note.content,
    published: Temporal.Instant.from(note.published),
    replyTarget: note.inReplyTo ? new URL(note.inReplyTo) : null,
    to: new URL("https://www.w3.org/ns/activitystreams#Public"),
  });
}

federation.setActorDispatcher("/users/{identifier}", (ctx, identifier) => {
  const actor = actors.get(identifier);
  if (actor == null) return null;
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    name: actor.name ?? identifier,
    summary: actor.summary ?? null,
    attachments: (actor.fields ?? []).map(
      (field) => new PropertyValue({ name: field.name, value: field.value }),
    ),
    outbox: ctx.getOutboxUri(identifier),
    url: new URL(`/@${identifier}`, ORIGIN),
  });
});

federation.setObjectDispatcher(
  Note,
  "/users/{identifier}/notes/{id}",
  (ctx, values) => {
    const note = (notes.get(values.identifier) ?? []).find(
      (n) => String(n.id) === values.id,
    );
    return note == null ? null : noteObject(ctx, values.identifier, note);
  },
);

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", (ctx, identifier, cursor) => {
    if (!actors.has(identifier)) return null;
    if (cursor == null) return null;
    const all = [...(notes.get(identifier) ?? [])].reverse();
    const start = Number.parseInt(cursor, 10) || 0;
    const page = all.slice(start, start + PAGE_SIZE);
    const items = page.map((note) => {
      const object = noteObject(ctx, identifier, note);
      return new Create({
        id: new URL(`${object.id.href}/activity`),
        actor: note.attributedTo ? new URL(note.attributedTo) : ctx.getActorUri(identifier),
        object,
        published: Temporal.Instant.from(note.published),
        to: new URL("https://www.w3.org/ns/activitystreams#Public"),
      });
    });
    const next = start + PAGE_SIZE < all.length ? String(start + PAGE_SIZE) : null;
    return { items, nextCursor: next };
  })
  .setCounter((_ctx, identifier) => (notes.get(identifier) ?? []).length)
  .setFirstCursor(() => "0");

let nextNoteId = 1;

function command(message) {
  switch (message.op) {
    case "actor": {
      if (typeof message.username !== "string" || !/^[A-Za-z0-9_.-]+$/.test(message.username)) {
        throw new Error("actor needs a username of A-Z a-z 0-9 _ . -");
      }
      actors.set(message.username, {
        name: message.name,
        summary: message.summary,
        fields: message.fields ?? [],
      });
      if (!notes.has(message.username)) notes.set(message.username, []);
      return { id: `${ORIGIN}/users/${message.username}` };
    }
    case "note": {
      if (!actors.has(message.actor)) throw new Error(`no actor ${message.actor}`);
      const note = {
        id: nextNoteId++,
        content: String(message.content ?? ""),
        published: message.published ?? new Date().toISOString(),
        inReplyTo: message.inReplyTo ?? null,
        attributedTo: message.attributedTo ?? null,
      };
      Temporal.Instant.from(note.published); // fails early on a bad time
      notes.get(message.actor).push(note);
      return { id: `${ORIGIN}/users/${message.actor}/notes/${note.id}` };
    }
    case "webfinger": {
      if (typeof message.resource !== "string") throw new Error("webfinger needs a resource");
      webfingers.set(message.resource, {
        self: message.self ?? null,
        status: message.status ?? 200,
      });
      return {};
    }
    case "raw": {
      if (typeof message.path !== "string" || !message.path.startsWith("/")) {
        throw new Error("raw needs a path starting with /");
      }
      raws.set(message.path, {
        contentType: message.contentType ?? "application/activity+json",
        body: String(message.body ?? ""),
      });
      return {};
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(message.op)}`);
  }
}

function reply(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

function send(res, status, contentType, body) {
  res.writeHead(status, { "content-type": contentType });
  res.end(body);
}

async function handle(req, res) {
  const url = new URL(req.url ?? "/", ORIGIN);
  const raw = raws.get(url.pathname);
  if (raw != null) {
    send(res, 200, raw.contentType, raw.body);
    return;
  }
  if (url.pathname === "/.well-known/webfinger") {
    const resource = url.searchParams.get("resource") ?? "";
    const override = webfingers.get(resource);
    if (override != null) {
      if (override.self == null || override.status !== 200) {
        send(res, override.status === 200 ? 404 : override.status, "text/plain", "not found");
        return;
      }
      const jrd = {
        subject: resource,
        links: [
          { rel: "self", type: "application/activity+json", href: override.self },
        ],
      };
      send(res, 200, "application/jrd+json", JSON.stringify(jrd));
      return;
    }
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === "host" || value == null) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  headers.set("host", HOST);
  const request = new Request(url, { method: req.method, headers });
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: () => new Response("not found", { status: 404 }),
    onNotAcceptable: () => new Response("not acceptable", { status: 406 }),
  });
  const out = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  res.writeHead(response.status, out);
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    process.stderr.write(`fedify peer: ${error?.stack ?? error}\n`);
    if (!res.headersSent) send(res, 500, "text/plain", "internal error");
    else res.end();
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  reply({ url: `http://127.0.0.1:${port}`, host: HOST });
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    try {
      reply({ ok: true, ...command(JSON.parse(line)) });
    } catch (error) {
      reply({ ok: false, error: String(error?.message ?? error) });
    }
  });
  lines.on("close", () => process.exit(0));
});
