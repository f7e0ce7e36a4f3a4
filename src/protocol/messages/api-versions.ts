import { arrayField, field, message, t } from '../schema.js'

export const ApiVersionsRequest = message({
  name: 'ApiVersionsRequest',
  apiKey: 18,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
    clientSoftwareName: field(t.string, { v: '3+' }),
    clientSoftwareVersion: field(t.string, { v: '3+' }),
  },
})

export const ApiVersionsResponse = message({
  name: 'ApiVersionsResponse',
  apiKey: 18,
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: {
    errorCode: field(t.int16),
    apiKeys: arrayField({
      apiKey: field(t.int16),
      minVersion: field(t.int16),
      maxVersion: field(t.int16),
    }),
    throttleTimeMs: field(t.int32, { v: '1+' }),
    supportedFeatures: arrayField(
      { name: field(t.string), minVersion: field(t.int16), maxVersion: field(t.int16) },
      { v: '3+', tagged: '3+', tag: 0 },
    ),
    finalizedFeaturesEpoch: field(t.int64, { v: '3+', tagged: '3+', tag: 1, default: -1 }),
    finalizedFeatures: arrayField(
      { name: field(t.string), maxVersionLevel: field(t.int16), minVersionLevel: field(t.int16) },
      { v: '3+', tagged: '3+', tag: 2 },
    ),
    zkMigrationReady: field(t.bool, { v: '3+', tagged: '3+', tag: 3, default: false }),
  },
})
