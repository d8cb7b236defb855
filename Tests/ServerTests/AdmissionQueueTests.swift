import Addressing
import DHCPv4
@testable import Server
import TestSupport
import Testing

/// The admission queue alone: items are names, times are milliseconds given as nanoseconds.
@Suite struct AdmissionQueueTests {
    private typealias Queue = AdmissionQueue<String>
    private static let ms: Int64 = 1_000_000
    private let limits = Queue.Limits(overloadedAfterNanoseconds: 1000 * ms, staleAfterNanoseconds: 250 * ms, capacity: 8)

    /// Pops everything at `now`: what was served, in order, and what was shed.
    private func drain(_ queue: inout Queue, at now: Int64) -> (served: [String], shed: [String]) {
        var served: [String] = [], shed: [String] = []
        while let next = queue.pop(now: now, shed: { shed.append($0) }) { served.append(next) }
        return (served, shed)
    }

    /// Serves the queue as the gate does, from `start` until `end` (monotonic ns) or `most`
    /// served: pops while it serves (a server with time for all of them), then waits until
    /// the queue's pace lets it serve again. What was served, in order.
    private func serve(_ queue: inout Queue, from start: Int64, until end: Int64, upTo most: Int = .max) -> [String] {
        var served: [String] = []
        var now = start
        while served.count < most, now < end {
            if let next = queue.pop(now: now, shed: { _ in }) {
                served.append(next)
            } else if let until = queue.pacedUntil(now: now) {
                #expect(until > now)
                now = until
            } else {
                break
            }
        }
        return served
    }

    @Test func requestsThatCompleteAnExchangeGoBeforeNewOnes() {
        var queue = Queue(limits: limits)
        for name in ["d1", "d2"] { #expect(queue.push(name, kind: .starting, receivedAt: 0) == nil) }
        #expect(queue.push("r1", kind: .completing, receivedAt: 1 * Self.ms) == nil)
        #expect(queue.push("d3", kind: .starting, receivedAt: 2 * Self.ms) == nil)
        #expect(queue.push("r2", kind: .completing, receivedAt: 3 * Self.ms) == nil)
        let (served, shed) = drain(&queue, at: 10 * Self.ms)
        #expect(served == ["r1", "r2", "d1", "d2", "d3"])
        #expect(shed.isEmpty)
        #expect(queue.isEmpty)
    }

    /// A burst younger than `overloadedAfter` is all served, oldest first, however long
    /// ago each arrived within it: a boot storm is absorbed, not shed.
    @Test func aBurstIsServedOldestFirstAndNothingIsShed() {
        var queue = Queue(limits: limits)
        for (index, name) in ["a", "b", "c"].enumerated() {
            _ = queue.push(name, kind: .starting, receivedAt: Int64(index) * 300 * Self.ms)
        }
        // a has waited 900 ms, past staleAfter but short of overloadedAfter.
        let (served, shed) = drain(&queue, at: 900 * Self.ms)
        #expect(served == ["a", "b", "c"])
        #expect(shed.isEmpty)
        #expect(!queue.overloaded)
    }

    /// Once a request has waited `overloadedAfter`, whatever is older than `staleAfter` is
    /// shed and new exchanges are served newest first, completing ones still first.
    @Test func overloadedItShedsStaleWorkAndServesTheNewestFirst() {
        var queue = Queue(limits: limits)
        _ = queue.push("old1", kind: .starting, receivedAt: 0)
        _ = queue.push("old2", kind: .starting, receivedAt: 100 * Self.ms)
        _ = queue.push("oldRequest", kind: .completing, receivedAt: 200 * Self.ms)
        _ = queue.push("new1", kind: .starting, receivedAt: 900 * Self.ms)
        _ = queue.push("request", kind: .completing, receivedAt: 950 * Self.ms)
        _ = queue.push("new2", kind: .starting, receivedAt: 990 * Self.ms)
        var shed: [String] = []
        #expect(queue.pop(now: 1000 * Self.ms, shed: { shed.append($0) }) == "request")
        #expect(shed == ["oldRequest", "old1", "old2"])
        #expect(queue.overloaded)
        #expect(queue.pop(now: 1000 * Self.ms, shed: { shed.append($0) }) == "new2")
        #expect(queue.pop(now: 1000 * Self.ms, shed: { shed.append($0) }) == "new1")
        // Empty again: the overload is over.
        #expect(queue.isEmpty)
        #expect(!queue.overloaded)
        #expect(queue.pop(now: 1000 * Self.ms, shed: { shed.append($0) }) == nil)
    }

    /// Overload lasts while the queue never empties, even once what is served is young; it
    /// ends when the queue does, and the next burst is served oldest first again.
    @Test func overloadLastsUntilTheQueueEmpties() {
        var queue = Queue(limits: limits)
        _ = queue.push("ancient", kind: .starting, receivedAt: 0)
        _ = queue.push("x", kind: .starting, receivedAt: 1900 * Self.ms)
        _ = queue.push("y", kind: .starting, receivedAt: 1950 * Self.ms)
        var shed: [String] = []
        #expect(queue.pop(now: 2000 * Self.ms, shed: { shed.append($0) }) == "y")
        #expect(shed == ["ancient"])
        _ = queue.push("z", kind: .starting, receivedAt: 2010 * Self.ms)
        #expect(queue.overloaded)
        #expect(queue.pop(now: 2020 * Self.ms, shed: { shed.append($0) }) == "z")
        #expect(queue.pop(now: 2020 * Self.ms, shed: { shed.append($0) }) == "x")
        #expect(!queue.overloaded)
        _ = queue.push("p", kind: .starting, receivedAt: 3000 * Self.ms)
        _ = queue.push("q", kind: .starting, receivedAt: 3001 * Self.ms)
        #expect(drain(&queue, at: 3500 * Self.ms).served == ["p", "q"])
    }

    /// A queue that never empties for `overloadedAfter` is overloaded even when no request
    /// in it is that old: a standing queue, not a burst.
    @Test func aQueueBusyForTooLongIsOverloadedThoughItsRequestsAreYoung() {
        var queue = Queue(limits: limits)
        var shed: [String] = []
        _ = queue.push("a", kind: .starting, receivedAt: 0)
        _ = queue.push("b", kind: .starting, receivedAt: 500 * Self.ms)
        #expect(queue.pop(now: 600 * Self.ms, shed: { shed.append($0) }) == "a")
        #expect(!queue.overloaded)
        _ = queue.push("c", kind: .starting, receivedAt: 900 * Self.ms)
        #expect(queue.pop(now: 1000 * Self.ms, shed: { shed.append($0) }) == "c")
        #expect(shed == ["b"])
        #expect(!queue.overloaded)  // empty again
        // Emptied, the next requests start a new busy period.
        _ = queue.push("d", kind: .starting, receivedAt: 1100 * Self.ms)
        _ = queue.push("e", kind: .starting, receivedAt: 1200 * Self.ms)
        #expect(drain(&queue, at: 1900 * Self.ms).served == ["d", "e"])
    }

    /// A storm of 100,000 machines, all DISCOVERs within half a second, served at 30,000
    /// exchanges a second, each client sending its REQUEST 2 ms after its offer: the queue stands far
    /// longer than `overloadedAfter`, yet with the default limits every request is served,
    /// because each is younger than the clients' retransmit wait, and the clients complete
    /// what they start, so pacing never holds them back. The same storm under the earlier
    /// 250 ms limit loses most of itself.
    @Test func aLongStormIsServedWholeWhileItsClientsStillWait() {
        func serveStorm(_ limits: Queue.Limits) -> (served: Int, shed: Int, wasOverloaded: Bool) {
            var queue = Queue(limits: limits)
            var shed = 0
            for index in 0..<100_000 where queue.push("d\(index)", kind: .starting, receivedAt: Int64(index) * 5_000) != nil {
                shed += 1
            }
            var served = 0, wasOverloaded = false
            var now: Int64 = 500 * Self.ms
            var requests: [(at: Int64, name: String)] = []
            while true {
                // The REQUESTs whose time has come arrive.
                while let first = requests.first, first.at <= now {
                    _ = queue.push(first.name, kind: .completing, receivedAt: first.at)
                    requests.removeFirst()
                }
                guard let next = queue.pop(now: now, shed: { _ in shed += 1 }) else {
                    // Nothing to serve now: the next REQUEST, or the next pacing window.
                    if let first = requests.first {
                        now = max(now, first.at)
                    } else if let until = queue.pacedUntil(now: now) {
                        now = until
                    } else {
                        break
                    }
                    continue
                }
                served += 1
                wasOverloaded = wasOverloaded || queue.overloaded
                if next.hasPrefix("d") { requests.append((now + 2 * Self.ms, "r" + next.dropFirst())) }
                now += 1_000_000_000 / 60_000
            }
            return (served, shed, wasOverloaded)
        }
        let storm = serveStorm(Queue.Limits())
        #expect(storm.wasOverloaded)
        #expect((storm.served, storm.shed) == (200_000, 0))
        let before = serveStorm(Queue.Limits(staleAfterNanoseconds: 250 * Self.ms))
        #expect(before.shed > 50_000)
    }

    /// Paced (offers wasted, or overloaded), a window starts no more new exchanges than
    /// completed in the window before (64 however few), spread over the window 16 at a time,
    /// and completing requests still go first; while clients complete what was started, the
    /// pace grows by a tenth a window. Until then nothing is paced.
    @Test func pacedNewExchangesStartAsFastAsTheyCompleteSpreadOverTheWindow() {
        var queue = Queue(limits: Queue.Limits())
        let window = 100 * Self.ms
        func arrive(window number: Int64, discovers: Int = 2_000, requests: Int = 0) {
            for index in 0..<discovers { _ = queue.push("d", kind: .starting, receivedAt: number * window + Int64(index)) }
            for index in 0..<requests { _ = queue.push("r", kind: .completing, receivedAt: number * window + Int64(index)) }
        }
        /// Serves window `number` (from 50 ms into it): the new exchanges started and the
        /// requests completing one, and the same at the window's first instant alone.
        func serveWindow(_ number: Int64, upTo most: Int = .max) -> (starts: Int, completions: Int, atOnce: Int) {
            let start = number * window + 50 * Self.ms
            let atOnce = serve(&queue, from: start, until: start + 1, upTo: most)
            let served = atOnce + serve(&queue, from: start + 1, until: start + window, upTo: most - atOnce.count)
            return (served.count { $0 == "d" }, served.count { $0 == "r" }, atOnce.count { $0 == "d" })
        }
        // Not overloaded yet (busy for less than a second): served as fast as the server goes.
        arrive(window: 0, requests: 100)
        #expect(serveWindow(0, upTo: 1_500) == (1_400, 100, 1_400))
        for number in Int64(1)...4 {
            arrive(window: number, requests: 100)
            #expect(serveWindow(number, upTo: 1_500) == (1_400, 100, 1_400))
        }
        // Clients completed 100 of the 1,400 started a window: once half a second is seen,
        // offers are wasted, and new exchanges are paced to the 100 completed in the window
        // before, 16 at once, after the window's completions.
        arrive(window: 5, requests: 100)
        #expect(serveWindow(5, upTo: 1_500) == (100, 100, 16))
        #expect(queue.wasting && !queue.overloaded)
        for number in Int64(6)...9 {
            arrive(window: number, requests: 100)
            _ = serveWindow(number, upTo: 1_500)
        }
        // Busy for a second: overloaded too. The clients kept up with the pace: it grows by a tenth.
        arrive(window: 10, requests: 100)
        #expect(serveWindow(10, upTo: 1_500) == (110, 100, 16))
        #expect(queue.overloaded && queue.sustained)
        // Nobody completes any more, new exchanges still pour in: 64 a window.
        for number in Int64(11)...12 {
            arrive(window: number)
            #expect(serveWindow(number) == (64, 0, 16))
        }
        // Clients complete all they start, within the window: once two windows say so, the
        // pace grows by a tenth a window (new exchanges still arriving faster than that).
        var starts: [Int] = []
        var pace = 64
        for number in Int64(13)...22 {
            arrive(window: number, requests: pace)
            let served = serveWindow(number)
            #expect(served.completions == pace)
            starts.append(served.starts)
            pace = served.starts
        }
        #expect(starts.prefix(3) == [64, 70, 77])
        for (before, after) in zip(starts.dropFirst(), starts.dropFirst(2)) { #expect(after == Int(Double(before) * 1.1)) }
        #expect(pace > 140)
    }

    /// Overloaded, a queue that no longer grows (fewer new exchanges arrived in the last
    /// window than were started) is a burst being drained, a boot storm's: served oldest
    /// first and unpaced, so the first machines powered on are not kept waiting to the end,
    /// past their retransmit wait. Once new exchanges outrun the server again, the overload
    /// is sustained: newest first and paced, until the queue empties, however few arrive.
    @Test func anOverloadedQueueThatNoLongerGrowsIsDrainedOldestFirstAndUnpaced() {
        var queue = Queue(limits: Queue.Limits())
        let window = 100 * Self.ms
        // A storm: 3,000 machines power on within the first window; the server starts 200 a
        // window, and each machine sends its REQUEST within the window it got its offer in.
        for index in 0..<3_000 { _ = queue.push("d\(index)", kind: .starting, receivedAt: Int64(index)) }
        var requests = 0
        func serve(window number: Int64, upTo most: Int) -> [String] {
            let start = number * window + 50 * Self.ms
            // The REQUESTs of the window before go first; then up to `most` new exchanges.
            let started = self.serve(&queue, from: start, until: start + window, upTo: requests + most).filter { $0 != "r" }
            requests = started.count
            for index in 0..<started.count { _ = queue.push("r", kind: .completing, receivedAt: start + 10 * Self.ms + Int64(index)) }
            return started
        }
        for number in Int64(0)...9 { _ = serve(window: number, upTo: 200) }
        // Busy for a second: overloaded. Nothing arrived since the storm: no pacing, and in order.
        let drained = serve(window: 10, upTo: 200)
        #expect(queue.overloaded && !queue.sustained && !queue.wasting)
        #expect(drained == (2_000..<2_200).map { "d\($0)" })
        #expect(queue.pacedUntil(now: 10 * window + 60 * Self.ms) == nil)
        // New exchanges outrun the server again: the next window serves the newest first, paced
        // to 1.1 times the 200 completed in the window before (its clients kept up).
        for index in 0..<1_000 { _ = queue.push("n\(index)", kind: .starting, receivedAt: 10 * window + 70 * Self.ms + Int64(index)) }
        let growing = serve(window: 11, upTo: 300)
        #expect(queue.sustained)
        #expect(growing == (780..<1_000).reversed().map { "n\($0)" })
        // Nothing more arrives: still sustained, newest first, until the queue is empty.
        #expect(serve(window: 12, upTo: 300) == (538..<780).reversed().map { "n\($0)" })
        #expect(queue.sustained)
    }

    /// A server that keeps up (its queue empties every window) whose clients complete only 60 %
    /// of what it starts, a window later: once half a second is seen, new exchanges are paced
    /// to what completed in the window before, in order. Clients that complete all they
    /// start, a window later, are never paced.
    @Test func offersThatClientsDoNotCompletePaceNewExchangesThoughNotOverloaded() {
        func run(completing percent: Int) -> (starts: [Int], firstServed: [String]) {
            var queue = Queue(limits: Queue.Limits())
            let window = 100 * Self.ms
            var starts: [Int] = [], firstServed: [String] = []
            var completions = 0
            for number in Int64(0)..<12 {
                for index in 0..<2_000 { _ = queue.push("d\(number).\(index)", kind: .starting, receivedAt: number * window + Int64(index)) }
                for index in 0..<completions { _ = queue.push("r", kind: .completing, receivedAt: number * window + Int64(index)) }
                let start = number * window + 50 * Self.ms
                let started = serve(&queue, from: start, until: start + window).filter { $0.hasPrefix("d") }
                starts.append(started.count)
                firstServed.append(started.first ?? "")
                completions = started.count * percent / 100
            }
            return (starts, firstServed)
        }
        let wasted = run(completing: 60)
        #expect(wasted.starts.prefix(5) == [2_000, 2_000, 2_000, 2_000, 2_000])
        // Paced from the sixth window: the 1,200 completed in the window before, then 60 % of that.
        #expect(wasted.starts[5] == 1_200 && wasted.starts[6] == 720)
        #expect(wasted.starts.last! < 100)
        // In order: the window's first start is the oldest waiting.
        #expect(wasted.firstServed[6] == "d5.1200")
        let completed = run(completing: 100)
        #expect(completed.starts == Array(repeating: 2_000, count: 12))
    }

    /// Overloaded and paced, a new exchange the engine drops unanswered (a flooding port's,
    /// over its rate limit) gives its place back: a flood dropped by the engine never uses up
    /// the window's allowance, and the legitimate request behind it is still served.
    @Test func aStartThatWentUnansweredGivesItsPlaceBack() {
        var queue = Queue(limits: Queue.Limits(overloadedAfterNanoseconds: 0, minimumStartsPerWindow: 2))
        _ = queue.push("legit", kind: .starting, receivedAt: 0)
        for _ in 0..<5 { _ = queue.push("flood", kind: .starting, receivedAt: 1) }
        var served: [String] = []
        while let next = queue.pop(now: 100 * Self.ms, shed: { _ in }) {
            served.append(next)
            if next == "flood" { queue.startWentUnanswered() }
        }
        #expect(served == ["flood", "flood", "flood", "flood", "flood", "legit"])
        // Answered, the same two use up the window.
        for name in ["a", "b", "c"] { _ = queue.push(name, kind: .starting, receivedAt: 150 * Self.ms) }
        #expect(drain(&queue, at: 200 * Self.ms).served == ["c", "b"])
        #expect(queue.pacedUntil(now: 200 * Self.ms) == 300 * Self.ms)
    }

    /// Overloaded, what has waited longer than a client waits before sending again (4 s) is
    /// shed; what is younger is served, newest first.
    @Test func overloadedItShedsWhatIsOlderThanTheRetransmitWait() {
        var queue = Queue(limits: Queue.Limits())
        _ = queue.push("gaveUp", kind: .starting, receivedAt: 0)
        _ = queue.push("waiting", kind: .starting, receivedAt: 1000 * Self.ms)
        _ = queue.push("fresh", kind: .starting, receivedAt: 4400 * Self.ms)
        let (served, shed) = drain(&queue, at: 4500 * Self.ms)
        #expect(shed == ["gaveUp"])
        #expect(served == ["fresh", "waiting"])
    }

    @Test func aFullQueuePushesOutItsOldestStartingRequestThenItsOldestCompletingOne() {
        var queue = Queue(limits: Queue.Limits(capacity: 3))
        #expect(queue.push("r1", kind: .completing, receivedAt: 0) == nil)
        #expect(queue.push("d1", kind: .starting, receivedAt: 1) == nil)
        #expect(queue.push("d2", kind: .starting, receivedAt: 2) == nil)
        #expect(queue.push("r2", kind: .completing, receivedAt: 3) == "d1")
        #expect(queue.push("r3", kind: .completing, receivedAt: 4) == "d2")
        #expect(queue.push("r4", kind: .completing, receivedAt: 5) == "r1")
        #expect(queue.count == 3)
        #expect(drain(&queue, at: 6).served == ["r2", "r3", "r4"])
    }

    @Test func theKindOfARequestComesFromItsTypeServerIdentifierAndClientAddress() {
        let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 1]
        func kind(_ request: ClientRequest) -> AdmissionKind { AdmissionKind(datagram: request.bytes) }
        #expect(kind(ClientRequest(.discover, mac: mac)) == .starting)
        // Selecting (option 54), renewing (ciaddr): an exchange the server is part of.
        #expect(kind(ClientRequest(.request, mac: mac, requested: IPv4Address(198, 18, 16, 17))) == .completing)
        #expect(kind(ClientRequest(.request, mac: mac, ciaddr: IPv4Address(198, 18, 16, 17))) == .completing)
        // INIT-REBOOT: no server identifier, no ciaddr.
        #expect(kind(ClientRequest(.request, mac: mac, requested: IPv4Address(198, 18, 16, 17), serverID: nil)) == .starting)
        #expect(kind(ClientRequest(.release, mac: mac, ciaddr: IPv4Address(198, 18, 16, 17))) == .completing)
        #expect(kind(ClientRequest(.decline, mac: mac, requested: IPv4Address(198, 18, 16, 17))) == .completing)
        #expect(kind(ClientRequest(.inform, mac: mac, ciaddr: IPv4Address(198, 18, 16, 17))) == .starting)
    }

    /// Total on any bytes: short, cut inside an option, a length running off the end, no
    /// cookie, a reply (op 2): each is `.starting`, and nothing traps.
    @Test func anyBytesHaveAKind() {
        let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 1]
        let request = ClientRequest(.request, mac: mac, requested: IPv4Address(198, 18, 16, 17)).bytes
        #expect(AdmissionKind(datagram: []) == .starting)
        #expect(AdmissionKind(datagram: Array(repeating: 0xff, count: 300)) == .starting)
        for length in 0..<request.count {
            let cut = Array(request[..<length])
            _ = AdmissionKind(datagram: cut)
        }
        var reply = request
        reply[0] = 2
        #expect(AdmissionKind(datagram: reply) == .starting)
        var noCookie = request
        noCookie[236] = 0
        #expect(AdmissionKind(datagram: noCookie) == .starting)
        var runsOff = Array(request[..<240]) + [53, 1, 3, 54, 200]
        #expect(AdmissionKind(datagram: runsOff) == .completing)
        runsOff = Array(request[..<240]) + [53, 9, 3]
        #expect(AdmissionKind(datagram: runsOff) == .starting)
    }
}
