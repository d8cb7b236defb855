import Addressing
import Zone

/// Which blocks of each pod's discovery range this host may allocate from, when hosts share a
/// zone through etcd (Calico-IPAM style). A range is cut into blocks of `blockSize` addresses
/// counted from its first address (the last block may be shorter); a host claims a block with
/// one etcd transaction bound to its etcd lease and then allocates inside it with no round trip,
/// so two hosts never offer one address, and a new lease costs at most 1/`blockSize` of an etcd
/// write. Pure: which block to claim next, and how many, are decided here from facts.
///
/// Without etcd the lease table has none (nil), and the whole range is the host's.
public struct DiscoveryBlocks: Sendable, Equatable {
    /// 16: at saturation one block claim per 16 new discovery leases, under the bound
    /// of one etcd write per 10, and little stranded in a dead host's partly used blocks.
    public static let defaultBlockSize = 16

    public var blockSize: Int
    /// pod → the first addresses of the blocks this host holds, ascending.
    public private(set) var held: [String: [IPv4Address]] = [:]
    /// False while this host cannot prove it still holds its blocks (etcd out of reach, its
    /// etcd lease lost): no discovery address is given or renewed then (`DropReason.discoveryUncoordinated`).
    public var available: Bool

    public init(blockSize: Int = DiscoveryBlocks.defaultBlockSize, available: Bool = false) {
        self.blockSize = max(1, blockSize)
        self.available = available
    }

    /// Replaces what this host holds in `pod` (the claimer's view after a claim or a re-read).
    public mutating func setHeld(_ firsts: some Sequence<IPv4Address>, pod: String) {
        let sorted = Set(firsts).sorted()
        held[pod] = sorted.isEmpty ? nil : sorted
    }

    public mutating func dropAll() { held = [:] }

    /// The blocks of `range`, each named by its first address rounded down to a multiple of
    /// `blockSize` (so a block keeps its name when the zone moves the range's ends, and two
    /// hosts never hold overlapping blocks), cut to the range.
    public func blocks(of range: IPv4Range) -> [IPv4Address] {
        stride(from: UInt64(aligned(range.first.value)), through: UInt64(range.last.value), by: blockSize).map {
            IPv4Address(UInt32($0))
        }
    }

    /// The addresses of the block named `first` that lie in `range` (none: it is outside).
    public func addresses(ofBlock first: IPv4Address, in range: IPv4Range) -> [IPv4Address] {
        let low = max(UInt64(first.value), UInt64(range.first.value))
        let high = min(UInt64(first.value) + UInt64(blockSize) - 1, UInt64(range.last.value))
        guard low <= high else { return [] }
        return (low...high).map { IPv4Address(UInt32($0)) }
    }

    /// The name of the block `address` falls in (nil: outside the range).
    public func block(containing address: IPv4Address, in range: IPv4Range) -> IPv4Address? {
        range.contains(address) ? IPv4Address(aligned(address.value)) : nil
    }

    private func aligned(_ value: UInt32) -> UInt32 { value / UInt32(blockSize) * UInt32(blockSize) }

    public func holds(_ address: IPv4Address, pod: String, in range: IPv4Range) -> Bool {
        guard let first = block(containing: address, in: range), let mine = held[pod] else { return false }
        return mine.contains(first)
    }

    /// The next `count` blocks to claim in `range`: the first that nobody holds (`taken`: every
    /// host's claims, this one's included), searched from `start` (a per-host offset, so two
    /// hosts starting together do not race for the same blocks) and wrapping round; fewer (or
    /// none) when fewer are free.
    public func nextToClaim(_ count: Int = 1, in range: IPv4Range, taken: Set<IPv4Address>, startingAt start: Int = 0) -> [IPv4Address] {
        let all = blocks(of: range)
        guard !all.isEmpty, count > 0 else { return [] }
        let from = ((start % all.count) + all.count) % all.count
        var found: [IPv4Address] = []
        for step in 0..<all.count where !taken.contains(all[(from + step) % all.count]) {
            found.append(all[(from + step) % all.count])
            if found.count == count { break }
        }
        return found
    }

    /// How many more blocks to claim now, ahead of need: enough for `lowWater` free addresses
    /// in hand, and addresses used since the last look (DISCOVERs turned away for want of one
    /// among them) count four times over, so a storm claims ahead of itself (a claim takes an
    /// etcd round trip or two while the storm goes on). At most `maximumPerRound` at once:
    /// they are claimed in one etcd transaction.
    ///
    /// The default low water is 8 blocks (128 addresses): a ToR pair offers every DISCOVER on
    /// both hosts, so a burst takes addresses from both before the REQUESTs give the loser's
    /// back, and a DISCOVER that finds none is dropped (the client waits seconds). It is never
    /// more than a quarter of the range's `rangeBlocks`, so a small range is not all taken by
    /// the first host to start.
    public func blocksWanted(free: Int, usedSinceLastLook: Int, rangeBlocks: Int = .max, lowWater: Int? = nil,
                             maximumPerRound: Int = 32) -> Int {
        let idle = lowWater ?? blockSize * min(8, max(1, rangeBlocks / 4))
        let target = max(idle, 4 * usedSinceLastLook)
        guard free < target else { return 0 }
        return min(maximumPerRound, (target - free + blockSize - 1) / blockSize)
    }

    /// How many blocks `range` is cut into.
    public func blockCount(of range: IPv4Range) -> Int {
        Int((UInt64(range.last.value) - UInt64(aligned(range.first.value))) / UInt64(blockSize)) + 1
    }
}

extension LeaseLookup {
    /// How many addresses of the held blocks of `pod` no lease blocks at `now`, counting no
    /// further than `limit` (the claimer needs to know only whether it is short).
    public func freeInHeldBlocks(_ blocks: DiscoveryBlocks, pod: String, range: IPv4Range, now: Int64, limit: Int) -> Int {
        var free = 0
        // Newest blocks first: they are the emptiest, so the count reaches its limit soonest.
        for first in (blocks.held[pod] ?? []).reversed() {
            for address in blocks.addresses(ofBlock: first, in: range) {
                if !(lease(address: address)?.blocksAddress(at: now) ?? false) {
                    free += 1
                    if free >= limit { return free }
                }
            }
        }
        return free
    }

    /// A free address of the held blocks of `pod`: the first at or above `from` (the table's
    /// high-water mark, usually in the block being filled), else the first of the newest-named
    /// block that has one (blocks are claimed upwards, so that is the emptiest).
    public func freeAddressInHeldBlocks(_ blocks: DiscoveryBlocks, pod: String, range: IPv4Range, from: IPv4Address?,
                                        now: Int64) -> IPv4Address? {
        let mine = blocks.held[pod] ?? []
        func scan<Firsts: Sequence<IPv4Address>>(_ firsts: Firsts, from start: UInt32) -> IPv4Address? {
            for first in firsts {
                for address in blocks.addresses(ofBlock: first, in: range) where address.value >= start {
                    if !(lease(address: address)?.blocksAddress(at: now) ?? false) { return address }
                }
            }
            return nil
        }
        if let from, let startBlock = blocks.block(containing: from, in: range), mine.contains(startBlock),
           let found = scan(CollectionOfOne(startBlock), from: from.value) {
            return found
        }
        return scan(mine.reversed(), from: 0)
    }
}
