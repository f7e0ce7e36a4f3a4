// The MSK API's errors, in one registry: each name, the HTTP status it is answered with, and the
// exception class handlers throw. The server turns an ApiError into the wire form MSK uses:
// status, header `x-amzn-ErrorType: <name>` and body `{"message": ..., "invalidParameter": ...}`.

export const API_ERRORS = {
  BadRequestException: 400,
  UnauthorizedException: 401,
  ForbiddenException: 403,
  NotFoundException: 404,
  ConflictException: 409,
  TooManyRequestsException: 429,
  InternalServerErrorException: 500,
  ServiceUnavailableException: 503,
  // The topic operations' own (the model's status for each): what the cluster's Kafka answered.
  TopicExistsException: 409,
  UnknownTopicOrPartitionException: 404,
  ClusterConnectivityException: 409,
  KafkaTimeoutException: 409,
  ControllerMovedException: 409,
  NotControllerException: 409,
  ReassignmentInProgressException: 409,
  GroupSubscribedToTopicException: 409,
  KafkaRequestException: 400,
} as const

export type ApiErrorName = keyof typeof API_ERRORS

export class ApiError extends Error {
  readonly status: number

  constructor(
    readonly errorName: ApiErrorName,
    message: string,
    /** The request member at fault (MSK's invalidParameter), when one is. */
    readonly invalidParameter?: string,
  ) {
    super(message)
    this.name = errorName
    this.status = API_ERRORS[errorName]
  }

  /** The JSON body MSK answers with. */
  body(): { message: string; invalidParameter?: string } {
    return this.invalidParameter === undefined
      ? { message: this.message }
      : { message: this.message, invalidParameter: this.invalidParameter }
  }
}

export const badRequest = (message: string, invalidParameter?: string): ApiError =>
  new ApiError('BadRequestException', message, invalidParameter)
export const notFound = (message: string, invalidParameter?: string): ApiError =>
  new ApiError('NotFoundException', message, invalidParameter)
export const conflict = (message: string, invalidParameter?: string): ApiError =>
  new ApiError('ConflictException', message, invalidParameter)
export const internalError = (message: string): ApiError => new ApiError('InternalServerErrorException', message)
