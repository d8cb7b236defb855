import Addressing
import Boot
import Synchronization

/// The durable lease of each address, for readers off the DHCP event loop: the HTTP
/// server checks that a host asking for its files holds its address's lease.
///
/// The DHCP engine keeps its own table for deciding (offers included); it publishes here
/// what it committed, once per group commit, so a reader never sees a lease a crash could lose.
public final class CommittedLeases: Sendable {
    private let box: Mutex<[IPv4Address: Lease]>

    public init(_ leases: [Lease]) {
        box = Mutex(Dictionary(leases.map { ($0.address, $0) }, uniquingKeysWith: { $0.updatedAt >= $1.updatedAt ? $0 : $1 }))
    }

    public var all: [Lease] { box.withLock { Array($0.values) } }

    public func lease(address: IPv4Address) -> Lease? { box.withLock { $0[address] } }

    /// The leases that name `name`, wherever their address (a host moved by a revision may
    /// still hold its old address's): found under the lock, nothing else copied.
    public func leases(named name: String) -> [Lease] { box.withLock { $0.values.filter { $0.name == name } } }

    func record(_ leases: [Lease]) {
        guard !leases.isEmpty else { return }
        let observer = self.observer.withLock { $0?.call }
        guard let observer else {
            box.withLock { table in for lease in leases { table[lease.address] = lease } }
            return
        }
        let changes = box.withLock { table in
            leases.map { lease in
                defer { table[lease.address] = lease }
                return Change(previous: table[lease.address], lease: lease)
            }
        }
        observer(changes)
    }

    /// A lease as published, with what its address held before (a renewal's own lease).
    public struct Change: Sendable {
        public var previous: Lease?
        public var lease: Lease
    }

    /// The closure in a struct: a closure held as a `Mutex`'s value itself is re-abstracted
    /// on every `withLock` (read in place, written back), each time wrapped in two more thunks,
    /// so that every group commit made the call to it longer. After some 10,000 commits it was
    /// 40 % of the DHCP loop's time at 3,000 DORA/s, and it would in time have overflowed the
    /// loop's stack.
    private struct Observer: Sendable {
        let call: @Sendable ([Change]) -> Void
    }

    private let observer = Mutex<Observer?>(nil)

    /// Calls `observer` with each batch as it is published, after the table has it, on the
    /// thread that committed it (the DHCP engine's writer), before the batch's replies leave:
    /// it must be quick (`BootPhases` takes a lock and updates a dictionary).
    /// One observer; a second replaces the first.
    public func observe(_ observer: @escaping @Sendable ([Change]) -> Void) {
        self.observer.withLock { $0 = Observer(call: observer) }
    }
}
