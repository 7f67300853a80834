/**
 * Client-side helpers of the fragment protocol: packing fragments into PUT frames and turning a
 * refusal status into the PalmError that names the fragment and the peer.
 */
import { IntegrityError, InvalidArgumentError, NoSpaceError, NotFoundError, PermissionError, ProtocolError, QuotaExceededError, NotSupportedError, type PalmError } from '../../errors.js'
import { Status, type Result } from './fragment-messages.js'
import type { FragmentItem } from '../types.js'
import type { CID } from 'multiformats/cid'

export interface BatchLimits {
  maxFragmentBytes: number
  batchBytes: number
  maxBatchCount: number
}

/**
 * Splits items (by index) into batches: consecutive small fragments share a batch up to
 * `batchBytes` and `maxBatchCount`; a fragment of `batchBytes` or more travels alone. Fragments over
 * `maxFragmentBytes` are rejected without being sent.
 */
export function packBatches (items: FragmentItem[], limits: BatchLimits): { batches: number[][], rejected: Map<number, Error> } {
  const batches: number[][] = []
  const rejected = new Map<number, Error>()
  let current: number[] = []
  let currentBytes = 0
  items.forEach((it, i) => {
    const size = it.bytes.byteLength
    if (size > limits.maxFragmentBytes) {
      rejected.set(i, new InvalidArgumentError(`fragment ${it.cid.toString()} is ${size} bytes, over the ${limits.maxFragmentBytes}-byte fragment limit; use a smaller stripe size`))
      return
    }
    if (size >= limits.batchBytes) {
      batches.push([i])
      return
    }
    if (current.length > 0 && (currentBytes + size > limits.batchBytes || current.length >= limits.maxBatchCount)) {
      batches.push(current)
      current = []
      currentBytes = 0
    }
    current.push(i)
    currentBytes += size
  })
  if (current.length > 0) batches.push(current)
  return { batches, rejected }
}

/** The error for a refusal (`result`) of fragment `cid` by `peer` during `verb`. */
export function resultError (result: Result | undefined, cid: CID | undefined, peer: string, verb: string): PalmError {
  const what = cid == null ? `fragment ${verb}` : `fragment ${cid.toString()}`
  const reason = result?.reason != null && result.reason !== '' ? `: ${result.reason}` : ''
  const details = { peer, cid: cid?.toString() }
  switch (result?.status) {
    case Status.NotFound:
      return new NotFoundError(`${what} is not stored on peer ${peer}; fetch it from another holder`, { details })
    case Status.Integrity:
      return new IntegrityError(`peer ${peer} ${verb === 'get' ? 'sent bad bytes for' : 'refused'} ${what}${reason}; the copy there is damaged or forged`, { details })
    case Status.Quota:
      return new QuotaExceededError(`peer ${peer} refused ${what}: over its capacity${reason}; place it on another device or raise that device's capacity`, { details })
    case Status.NoSpace:
      return new NoSpaceError(`peer ${peer} refused ${what}: its disk is full${reason}; place it on another device`, { details })
    case Status.Unsupported:
      return new NotSupportedError(`peer ${peer} does not support this fragment request${reason}; upgrade PALM on that device`, { details })
    case Status.Refused:
      return new PermissionError(`peer ${peer} refused to ${verb} ${what}${reason}`, { details })
    case Status.BadRequest:
      return new ProtocolError(`peer ${peer} rejected the ${verb} request for ${what} as malformed${reason}`, { details })
    case undefined:
      return new ProtocolError(`peer ${peer} sent an unexpected reply to ${verb} of ${what}`, { details })
    default:
      return new ProtocolError(`peer ${peer} failed to ${verb} ${what}${reason}; see that device's log`, { details })
  }
}
