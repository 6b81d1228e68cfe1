// A real ATProto PDS with an in-memory PLC directory, on 127.0.0.1 only, for kez-verify's
// bluesky channel tests (channels/peers/src/pds.rs drives it).
//
// Protocol (JSON lines):
//   stdout, once ready:  {"pds":"http://localhost:PORT","plc":"http://localhost:PORT","pds_port":N,"plc_port":N}
//   stdin, one command per line, each answered by exactly one line on stdout:
//     {"op":"createAccount","handle":"alice.test","password":"…"?}  → {"ok":true,"did":…,"handle":…}
//     {"op":"putRecord","did":…,"collection":…,"rkey":…?,"record":{…}} → {"ok":true,"uri":…,"cid":…}
//         (no rkey: com.atproto.repo.createRecord, so the PDS picks a TID)
//     {"op":"deleteRecord","did":…,"collection":…,"rkey":…}           → {"ok":true}
//     {"op":"updateHandle","did":…,"handle":…}                         → {"ok":true,"did":…,"handle":…}
//     {"op":"shutdown"}                                                → {"ok":true}, then exit 0
//   a failed command answers {"ok":false,"error":"…"}; every answer echoes "id" when given.
// The process exits when stdin closes (so a crashed test never leaves it running) and, in any
// case, after KEZ_PDS_TIMEOUT_SECS (default 600) seconds. Logs go to stderr only.

import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'

// Every listener binds 127.0.0.1, whatever the library asks for (the PDS and PLC would
// otherwise listen on all interfaces).
const LOOPBACK = '127.0.0.1'
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined && first.fd === undefined && first.handle === undefined && first._handle === undefined) {
      args[0] = { ...first, host: LOOPBACK }
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first)) || first === undefined || first === null) {
    // listen([port[, host[, backlog]]][, callback])
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    const port = first === undefined || first === null ? 0 : Number(first)
    const backlog = typeof args[2] === 'number' ? args[2] : typeof args[1] === 'number' ? args[1] : undefined
    const options = { port, host: LOOPBACK }
    if (backlog !== undefined) options.backlog = backlog
    args = callback ? [options, callback] : [options]
  }
  return originalListen.apply(this, args)
}

// Keep stdout for the protocol: anything else printing goes to stderr.
const writeLine = (value) => {
  fs.writeSync(1, JSON.stringify(value) + '\n')
}
console.log = (...args) => console.error(...args)
console.info = (...args) => console.error(...args)
if (process.env.LOG_ENABLED === undefined) process.env.LOG_ENABLED = 'false'

// The PDS keeps its sqlite files and blobs under os.tmpdir(); give it a private directory
// and remove it on exit.
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kez-pds-'))
process.env.TMPDIR = workDir
// KEZ_PDS_REMOVE_ON_EXIT names a directory the caller made for this process (pds.rs keeps
// the log there): removed too, so a caller that never gets to clean up leaves nothing behind.
const removeOnExit = process.env.KEZ_PDS_REMOVE_ON_EXIT
const removeWorkDir = () => {
  for (const dir of [workDir, removeOnExit]) {
    if (!dir) continue
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
}

const timeoutSecs = Number(process.env.KEZ_PDS_TIMEOUT_SECS || 600)
let network = null
let exiting = false
const exit = async (code, why) => {
  if (exiting) return
  exiting = true
  if (why) console.error(`kez-pds: ${why}`)
  const hard = setTimeout(() => {
    removeWorkDir()
    process.exit(code)
  }, 5000)
  hard.unref()
  try {
    if (network) await network.close()
  } catch (err) {
    console.error(`kez-pds: close failed: ${err?.message ?? err}`)
  }
  removeWorkDir()
  process.exit(code)
}
setTimeout(() => exit(3, `self-timeout after ${timeoutSecs} s`), timeoutSecs * 1000).unref()
process.on('SIGTERM', () => exit(0, 'SIGTERM'))
process.on('SIGINT', () => exit(0, 'SIGINT'))
process.on('uncaughtException', (err) => {
  console.error(err)
  exit(2, 'uncaught exception')
})

const { TestNetworkNoAppView } = await import('@atproto/dev-env')

try {
  network = await TestNetworkNoAppView.create({ pds: { hostname: 'localhost' } })
} catch (err) {
  console.error(err)
  await exit(1, 'start failed')
}

const pdsUrl = network.pds.url
const plcUrl = network.plc.url
const sessions = new Map() // did → accessJwt

const xrpc = async (method, nsid, { body, token, params } = {}) => {
  const url = new URL(`/xrpc/${nsid}`, pdsUrl)
  for (const [k, v] of Object.entries(params ?? {})) url.searchParams.set(k, v)
  const headers = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : {}
  } catch {
    json = null
  }
  if (!res.ok) {
    throw new Error(`${nsid}: HTTP ${res.status}: ${text.slice(0, 300)}`)
  }
  return json
}

const tokenFor = (did) => {
  const token = sessions.get(did)
  if (!token) throw new Error(`no account created here with did ${did}`)
  return token
}

const need = (cmd, ...names) => {
  for (const name of names) {
    if (cmd[name] === undefined || cmd[name] === null) throw new Error(`${cmd.op}: missing field ${name}`)
  }
}

const ops = {
  async createAccount(cmd) {
    need(cmd, 'handle')
    const local = String(cmd.handle).split('.')[0].replace(/[^a-z0-9]/gi, '')
    const out = await xrpc('POST', 'com.atproto.server.createAccount', {
      body: {
        handle: cmd.handle,
        email: `${local || 'user'}-${sessions.size}@kez.invalid`,
        password: cmd.password ?? 'kez-test-password',
      },
    })
    sessions.set(out.did, out.accessJwt)
    return { did: out.did, handle: out.handle }
  },
  async putRecord(cmd) {
    need(cmd, 'did', 'collection', 'record')
    const token = tokenFor(cmd.did)
    const body = { repo: cmd.did, collection: cmd.collection, record: cmd.record, validate: false }
    const out =
      cmd.rkey === undefined || cmd.rkey === null
        ? await xrpc('POST', 'com.atproto.repo.createRecord', { body, token })
        : await xrpc('POST', 'com.atproto.repo.putRecord', { body: { ...body, rkey: cmd.rkey }, token })
    return { uri: out.uri, cid: out.cid }
  },
  async deleteRecord(cmd) {
    need(cmd, 'did', 'collection', 'rkey')
    const token = tokenFor(cmd.did)
    await xrpc('POST', 'com.atproto.repo.deleteRecord', {
      body: { repo: cmd.did, collection: cmd.collection, rkey: cmd.rkey },
      token,
    })
    return {}
  },
  async updateHandle(cmd) {
    need(cmd, 'did', 'handle')
    const token = tokenFor(cmd.did)
    await xrpc('POST', 'com.atproto.identity.updateHandle', { body: { handle: cmd.handle }, token })
    return { did: cmd.did, handle: cmd.handle }
  },
  async shutdown() {
    return {}
  },
}

writeLine({
  pds: pdsUrl,
  plc: plcUrl,
  pds_port: network.pds.port,
  plc_port: Number(new URL(plcUrl).port),
})

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (err) {
    writeLine({ ok: false, error: `not JSON: ${err.message}` })
    continue
  }
  const echo = cmd && cmd.id !== undefined ? { id: cmd.id } : {}
  const op = cmd && typeof cmd.op === 'string' ? ops[cmd.op] : undefined
  if (!op || !Object.hasOwn(ops, cmd.op)) {
    writeLine({ ...echo, ok: false, error: `unknown op ${JSON.stringify(cmd?.op)}` })
    continue
  }
  try {
    const result = await op(cmd)
    writeLine({ ...echo, ok: true, ...result })
  } catch (err) {
    writeLine({ ...echo, ok: false, error: String(err?.message ?? err) })
  }
  if (cmd.op === 'shutdown') break
}
await exit(0)
