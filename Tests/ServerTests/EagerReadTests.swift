import Testing

@testable import Server

/// The policy that decides whether a TFTP transfer's socket is read again right after an
/// answer: every time while that read finds the next ACK, spaced out after misses.
@Suite struct EagerReadTests {
    /// Which of the next `answers` answers try an eager read, recording a miss for each try.
    private func triesWhileMissing(_ policy: inout EagerRead, answers: Int) -> [Int] {
        var tried: [Int] = []
        for answer in 0..<answers where policy.shouldTry() {
            tried.append(answer)
            policy.missed()
        }
        return tried
    }

    @Test func everyAnswerTriesWhileTheClientIsAlwaysBackInTime() {
        var policy = EagerRead()
        for _ in 0..<1_000 {
            let tries = policy.shouldTry()
            #expect(tries)
            policy.found()
        }
    }

    @Test func missesSpaceTheTriesOutDoublingUpToOneInSixtyFive() {
        var policy = EagerRead()
        let tried = triesWhileMissing(&policy, answers: 600)
        // After each miss the next 1, 2, 4, ... 64 answers skip the read.
        #expect(Array(tried.prefix(8)) == [0, 2, 5, 10, 19, 36, 69, 134])
        let gaps = zip(tried.dropFirst(), tried).map { $0 - $1 }
        #expect(gaps.suffix(4).allSatisfy { $0 == 65 })
        // A client on another CPU costs at most one wasted system call per 65 blocks.
        #expect(tried.count <= 600 / 65 + 7)
    }

    @Test func aHitAfterMissesMakesEveryAnswerTryAgain() {
        var policy = EagerRead()
        _ = triesWhileMissing(&policy, answers: 300)
        while !policy.shouldTry() {}
        policy.found()
        for _ in 0..<100 {
            let tries = policy.shouldTry()
            #expect(tries)
            policy.found()
        }
    }
}
