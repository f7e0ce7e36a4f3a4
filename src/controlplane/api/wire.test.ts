// The wire rules checked with plain HTTP: error header and body, raw-path routing of encoded ARNs,
// malformed and oversized bodies, unknown routes, the SigV4 credential scope, Fjord's extensions.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startTestApi } from './testing.js'
import { MAX_BODY_BYTES } from '../http/server.js'

const AUTH = 'AWS4-HMAC-SHA256 Credential=AKIDRAW/20240101/ap-south-1/kafka/aws4_request, SignedHeaders=host, Signature=00'

async function call(url: string, method: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, body, headers: { 'content-type': 'application/json', ...headers } })
  const text = await res.text()
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) }
}

const create = JSON.stringify({
  clusterName: 'wire',
  kafkaVersion: '3.9.x.kraft',
  numberOfBrokerNodes: 2,
  brokerNodeGroupInfo: { clientSubnets: ['a', 'b'], instanceType: 'kafka.m5.large' },
})

test('wire: encoded ARNs, errors, bad bodies, unknown routes, region from the credential scope', async () => {
  const api = await startTestApi()
  const base = api.server.url
  try {
    const created = await call(`${base}/v1/clusters`, 'POST', create, { authorization: AUTH })
    assert.equal(created.status, 200)
    const arn = created.json?.clusterArn as string
    assert.match(arn, /^arn:aws:kafka:ap-south-1:123456789012:cluster\/wire\//, 'region from the SigV4 scope')
    const noAuth = await call(`${base}/v1/clusters`, 'POST', create.replace('"wire"', '"wire2"'))
    assert.match(noAuth.json?.clusterArn as string, /^arn:aws:kafka:us-east-1:/, 'default region without a signature')

    const described = await call(`${base}/v1/clusters/${encodeURIComponent(arn)}`, 'GET')
    assert.equal(described.status, 200)
    const info = described.json?.clusterInfo as Record<string, unknown>
    assert.equal(info.clusterArn, arn)
    assert.match(info.creationTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const unencoded = await call(`${base}/v1/clusters/${arn}`, 'GET')
    assert.equal(unencoded.status, 404)

    const missing = await call(`${base}/v1/clusters/${encodeURIComponent(`${arn}x`)}`, 'GET')
    assert.equal(missing.status, 404)
    assert.equal(missing.type, 'NotFoundException')
    assert.equal(missing.json?.invalidParameter, 'clusterArn')
    assert.match(missing.json?.message as string, /does not exist/)

    const malformed = await call(`${base}/v1/clusters`, 'POST', '{"clusterName": ')
    assert.equal(malformed.status, 400)
    assert.equal(malformed.type, 'BadRequestException')
    assert.match(malformed.json?.message as string, /not valid JSON/)
    const array = await call(`${base}/v1/clusters`, 'POST', '[1]')
    assert.equal(array.type, 'BadRequestException')
    const wrongType = await call(`${base}/v1/clusters`, 'POST', JSON.stringify({ ...JSON.parse(create), numberOfBrokerNodes: 'two' }))
    assert.equal(wrongType.json?.invalidParameter, 'numberOfBrokerNodes')

    const big = JSON.stringify({ clusterName: 'x'.repeat(MAX_BODY_BYTES) })
    const oversized = await call(`${base}/v1/clusters`, 'POST', big)
    assert.equal(oversized.status, 400)
    assert.equal(oversized.type, 'BadRequestException')
    assert.match(oversized.json?.message as string, /larger than/)

    const unknown = await call(`${base}/v1/nothing-here`, 'GET')
    assert.equal(unknown.status, 404)
    assert.equal(unknown.type, 'NotFoundException')
    assert.match(unknown.json?.message as string, /No operation at \/v1\/nothing-here/)
    const wrongMethod = await call(`${base}/v1/kafka-versions`, 'DELETE')
    assert.equal(wrongMethod.status, 404)
    assert.match(wrongMethod.json?.message as string, /takes GET/)
    const badEncoding = await call(`${base}/v1/clusters/%E0%A4%A`, 'GET')
    assert.equal(badEncoding.status, 400)

    // The server is still up and answering.
    assert.equal((await call(`${base}/v1/kafka-versions`, 'GET')).status, 200)
  } finally {
    await api.close()
  }
})

test('Fjord extensions: storage auto-scaling settings and per-broker usage', async () => {
  const api = await startTestApi()
  const base = api.server.url
  try {
    const created = await call(`${base}/v1/clusters`, 'POST', create)
    const arn = created.json?.clusterArn as string
    const path = `${base}/fjord/v1/clusters/${encodeURIComponent(arn)}`
    assert.deepEqual((await call(`${path}/storage-autoscaling`, 'GET')).json, { clusterArn: arn, storageAutoScaling: null })
    const low = await call(`${path}/storage-autoscaling`, 'PUT', JSON.stringify({ targetUtilization: 5, maxVolumeSizeGiB: 2000 }))
    assert.equal(low.json?.invalidParameter, 'targetUtilization')
    const small = await call(`${path}/storage-autoscaling`, 'PUT', JSON.stringify({ targetUtilization: 60, maxVolumeSizeGiB: 10 }))
    assert.equal(small.json?.invalidParameter, 'maxVolumeSizeGiB')
    const set = await call(`${path}/storage-autoscaling`, 'PUT', JSON.stringify({ targetUtilization: 60, maxVolumeSizeGiB: 4000 }))
    assert.deepEqual(set.json?.storageAutoScaling, { targetUtilization: 60, maxVolumeSizeGiB: 4000, cooldownSeconds: 21600 })
    assert.deepEqual(api.store.getCluster(arn)?.spec.storageAutoScaling, { targetUtilization: 60, maxVolumeSizeGiB: 4000, cooldownSeconds: 21600 })
    const off = await call(`${path}/storage-autoscaling`, 'PUT', JSON.stringify({ targetUtilization: 0 }))
    assert.equal(off.json?.storageAutoScaling, null)

    assert.deepEqual((await call(`${path}/usage`, 'GET')).json, { clusterArn: arn, brokers: [] })
    api.complete(arn)
    const usage = (await call(`${path}/usage`, 'GET')).json?.brokers as Array<Record<string, unknown>>
    assert.equal(usage.length, 2)
    assert.equal(usage[0]?.brokerId, 1)
    assert.equal(usage[0]?.usedBytes, 4096)
    assert.equal(typeof usage[0]?.volumeSizeBytes, 'number')
  } finally {
    await api.close()
  }
})

/** Sends raw bytes, half-closes, and answers all the server sent before it closed. */
function rawExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => resolve(data))
    socket.end(payload)
  })
}

test('HTTP the parser refuses (bad request line, bad content-length, broken chunks) is answered in MSK form', async () => {
  const api = await startTestApi()
  try {
    const cases = [
      'GET /v1/clusters?a b HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}',
      'POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'POST /v1/clusters HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"clusterName":',
    ]
    for (const payload of cases) {
      const answer = await rawExchange(api.server.port, payload)
      const [head = '', body = ''] = answer.split('\r\n\r\n')
      assert.match(head, /^HTTP\/1\.1 400 /, payload)
      assert.match(head, /\r\nx-amzn-ErrorType: BadRequestException\r\n/i, payload)
      assert.match((JSON.parse(body) as { message: string }).message, /not valid HTTP\/1\.1/, payload)
    }
    assert.equal(api.store.listClusters().length, 0)
    assert.equal((await call(`${api.server.url}/v1/kafka-versions`, 'GET')).status, 200)
  } finally {
    await api.close()
  }
})

test('a body nested thousands of levels deep is refused (400), not stored or crashed on (500)', async () => {
  const api = await startTestApi()
  const base = api.server.url
  try {
    // connectivityInfo is kept as given: 5000 levels parse, but storing them overflowed the stack.
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`
    const body = create.replace('"instanceType"', `"connectivityInfo":${deep},"instanceType"`)
    const refused = await call(`${base}/v1/clusters`, 'POST', body)
    assert.equal(refused.status, 400)
    assert.equal(refused.type, 'BadRequestException')
    assert.match(refused.json?.message as string, /nested more than 32 levels/)
    const arrays = await call(`${base}/v1/clusters`, 'POST', `{"tags":${'['.repeat(200_000)}${']'.repeat(200_000)}}`)
    assert.equal(arrays.status, 400)
    assert.equal(api.store.listClusters().length, 0)
    // MSK's own deep members still pass.
    const vpc = { vpcConnectivity: { clientAuthentication: { sasl: { scram: { enabled: true }, iam: { enabled: false } } } } }
    const ok = await call(`${base}/v1/clusters`, 'POST', create.replace('"instanceType"', `"connectivityInfo":${JSON.stringify(vpc)},"instanceType"`))
    assert.equal(ok.status, 200)
  } finally {
    await api.close()
  }
})

test('a complete request followed by bytes the parser refuses is answered first (its 200, then the 400)', async () => {
  const api = await startTestApi()
  try {
    const created = await call(`${api.server.url}/v1/clusters`, 'POST', create)
    const arn = created.json?.clusterArn as string
    api.complete(arn)
    const answer = await rawExchange(api.server.port, `DELETE /v1/clusters/${encodeURIComponent(arn)} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nnot http at all\r\n\r\n`)
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])
    assert.deepEqual(statuses, ['200', '400'], answer)
    assert.match(answer, /"state":"DELETING"/)
    assert.equal(api.store.getCluster(arn)?.state, 'DELETING', 'the DELETE was carried out, and said so')
  } finally {
    await api.close()
  }
})
