// DescribeLogDirs: log directories of a broker and the partition sizes in them.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeLogDirsRequest = message({
  name: 'DescribeLogDirsRequest',
  apiKey: 35,
  validVersions: '0-4',
  flexibleVersions: '2+',
  fields: {
    topics: arrayField({
      topic: field(t.string),
      partitions: field(t.array(t.int32)),
    }, { nullable: '0+', default: [] }),
  },
})

export const DescribeLogDirsResponse = message({
  name: 'DescribeLogDirsResponse',
  apiKey: 35,
  validVersions: '0-4',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16, { v: '3+' }),
    results: arrayField({
      errorCode: field(t.int16),
      logDir: field(t.string),
      topics: arrayField({
        name: field(t.string),
        partitions: arrayField({
          partitionIndex: field(t.int32),
          partitionSize: field(t.int64),
          offsetLag: field(t.int64),
          isFutureKey: field(t.bool),
        }),
      }),
      totalBytes: field(t.int64, { v: '4+', default: -1 }),
      usableBytes: field(t.int64, { v: '4+', default: -1 }),
    }),
  },
})

export type DescribeLogDirsRequestData = DecodedOf<typeof DescribeLogDirsRequest>
export type DescribeLogDirsRequestInput = InputOf<typeof DescribeLogDirsRequest>
export type DescribeLogDirsResponseData = DecodedOf<typeof DescribeLogDirsResponse>
export type DescribeLogDirsResponseInput = InputOf<typeof DescribeLogDirsResponse>
