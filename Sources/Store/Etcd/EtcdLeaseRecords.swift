import Addressing
import Boot
import Etcd
import Foundation

/// One lease as kept in etcd (`leases/<address>`), with the host that committed it.
public struct EtcdLeaseRecord: Sendable, Codable, Equatable {
    public var host: String
    public var lease: Lease

    public init(host: String, lease: Lease) {
        self.host = host
        self.lease = lease
    }

    public func encoded() -> [UInt8] { (try? Array(JSONEncoder().encode(self))) ?? [] }

    /// Nil for a value that is no record (it is skipped, never trusted).
    public static func decode(_ value: [UInt8]) -> EtcdLeaseRecord? {
        try? JSONDecoder().decode(EtcdLeaseRecord.self, from: Data(value))
    }
}

/// The lease store of a host on etcd: every batch is committed to the local store (SQLite)
/// first, then written to etcd as lease records in one transaction per batch (the group
/// commit's batch), so `zonectl hosts` on any host shows leases taken through any other.
///
/// Which promise holds: a batch with a discovery lease returns (and its replies leave) only
/// once etcd has it too: a host SIGKILLed after an ACK has that address in etcd, so no
/// survivor gives it to another machine. A batch of declared leases only returns once local;
/// its records follow through one writer in order: declared answers never wait for etcd,
/// and go on with etcd out of reach (the records that could not be written are kept and
/// written once etcd answers again, unless another host wrote a newer one meanwhile).
public final class EtcdLeaseRecords: DurableLeaseStore {
    private let local: any DurableLeaseStore
    private let kv: any EtcdKV
    private let keys: EtcdZoneKeys
    private let host: String
    private let following: AsyncStream<[Lease]>.Continuation

    /// `failed` is told of a write that failed (with its error) and of the first that works again (nil).
    public init(local: any DurableLeaseStore, kv: any EtcdKV, keys: EtcdZoneKeys, host: String,
                failed: @escaping @Sendable (String?) -> Void) {
        self.local = local
        self.kv = kv
        self.keys = keys
        self.host = host
        let (stream, continuation) = AsyncStream<[Lease]>.makeStream()
        following = continuation
        let writer = Writer(kv: kv, keys: keys, host: host)
        Task.detached {
            // Records a failed write left behind (etcd out of reach), newest per address: written
            // with the next batch, or at the next tick (an empty batch, every second) if none comes.
            var unsent: [IPv4Address: Lease] = [:]
            for await leases in stream {
                guard !leases.isEmpty || !unsent.isEmpty else { continue }
                var batch = unsent
                for lease in leases { batch[lease.address] = lease }
                do {
                    if !unsent.isEmpty {
                        // What failed may have been overtaken meanwhile (another host renewed the
                        // client): a record etcd holds newer than ours is left as it is.
                        for record in try await Self.records(kv: kv, keys: keys, addresses: Array(unsent.keys)) {
                            if let mine = batch[record.lease.address], unsent[mine.address] == mine, record.lease.updatedAt >= mine.updatedAt {
                                batch[mine.address] = nil
                            }
                        }
                    }
                    try await writer.write(Array(batch.values))
                    if !unsent.isEmpty { failed(nil) }
                    unsent = [:]
                } catch {
                    if unsent.isEmpty { failed("\(error)") }
                    unsent = batch
                }
            }
        }
        Task.detached {
            while true {
                try? await Task.sleep(for: .seconds(1))
                if case .terminated = continuation.yield([]) { return }
            }
        }
    }

    deinit { following.finish() }

    public func loadLeases() throws -> [Lease] { try local.loadLeases() }

    public func commit(leases: [Lease], events: [ZoneEvent]) throws {
        try local.commit(leases: leases, events: events)
        guard !leases.isEmpty else { return }
        guard leases.contains(where: { $0.location == nil }) else {
            following.yield(leases)
            return
        }
        let writer = Writer(kv: kv, keys: keys, host: host)
        try BlockingCall.run { try await writer.write(leases) }
    }

    /// Every lease record in etcd (only those written after revision `since`, when given), and
    /// the etcd revision read at (to watch, or read again, from the next one).
    public static func all(kv: any EtcdKV, keys: EtcdZoneKeys, since: Int64 = 0) async throws(EtcdError) -> (records: [EtcdLeaseRecord], revision: Int64) {
        let answer = try await kv.range(.prefix(keys.leaseRecords, minModRevision: since == 0 ? 0 : since + 1))
        return (answer.kvs.compactMap { EtcdLeaseRecord.decode($0.value) }, answer.header.revision)
    }

    /// The records of `addresses` (those that have one), read 128 to a transaction (etcd's
    /// `--max-txn-ops`); reads only, so no etcd write.
    public static func records(kv: any EtcdKV, keys: EtcdZoneKeys, addresses: [IPv4Address]) async throws(EtcdError) -> [EtcdLeaseRecord] {
        var records: [EtcdLeaseRecord] = []
        for chunk in EtcdTxnRequest.batches(addresses) {
            let answer = try await kv.txn(EtcdTxnRequest(compare: [], success: chunk.map { .range(EtcdRangeRequest(key: keys.leaseRecord($0))) }))
            for case .range(let range) in answer.responses { records += range.kvs.compactMap { EtcdLeaseRecord.decode($0.value) } }
        }
        return records
    }

    private struct Writer: Sendable {
        let kv: any EtcdKV
        let keys: EtcdZoneKeys
        let host: String

        func write(_ leases: [Lease]) async throws(EtcdError) {
            // The newest state of each address only: etcd refuses a transaction that puts one key twice.
            var latest: [IPv4Address: Lease] = [:]
            for lease in leases { latest[lease.address] = lease }
            let puts = latest.values.map {
                EtcdOperation.put(EtcdPutRequest(key: keys.leaseRecord($0.address), value: EtcdLeaseRecord(host: host, lease: $0).encoded()))
            }
            for chunk in EtcdTxnRequest.batches(puts) {
                _ = try await kv.txn(EtcdTxnRequest(compare: [], success: Array(chunk)))
            }
        }
    }
}

/// Runs async work from a thread that may block (the lease writer's thread), and waits for it.
enum BlockingCall {
    private final class Outcome: @unchecked Sendable {
        // Written once by the task before `done` is signalled, read after.
        var result: Result<Void, any Error> = .success(())
        let done = DispatchSemaphore(value: 0)
    }

    static func run(_ work: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Outcome()
        Task.detached {
            do { try await work() } catch { outcome.result = .failure(error) }
            outcome.done.signal()
        }
        outcome.done.wait()
        try outcome.result.get()
    }
}
