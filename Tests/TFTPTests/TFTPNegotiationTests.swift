import Testing
@testable import TFTP

@Suite struct TFTPNegotiationTests {
    @Test func grantsWhatTheRFCsAllowInTheClientsOrderAndSpelling() {
        let negotiation = TFTPNegotiation(
            options: [TFTPOption("TSIZE", "0"), TFTPOption("blksize", "1468"), TFTPOption("Timeout", "3"), TFTPOption("windowsize", "16")],
            fileSize: 123456)
        #expect(negotiation.blockSize == 1468)
        #expect(negotiation.windowSize == 16)
        #expect(negotiation.timeoutMilliseconds == 3000)
        #expect(negotiation.acknowledged == [TFTPOption("TSIZE", "123456"), TFTPOption("blksize", "1468"),
                                             TFTPOption("Timeout", "3"), TFTPOption("windowsize", "16")])
        #expect(negotiation.ignored.isEmpty)
    }

    @Test func blockSizeIsCappedAndTooSmallIsRefused() {
        #expect(TFTPNegotiation(options: [TFTPOption("blksize", "65536")], fileSize: 1).blockSize == 65464)
        #expect(TFTPNegotiation(options: [TFTPOption("blksize", "65536")], fileSize: 1).acknowledged == [TFTPOption("blksize", "65464")])
        #expect(TFTPNegotiation(options: [TFTPOption("blksize", "9999")], fileSize: 1,
                                limits: TFTPLimits(maximumBlockSize: 1468)).blockSize == 1468)
        let tiny = TFTPNegotiation(options: [TFTPOption("blksize", "1")], fileSize: 1)
        #expect(tiny.blockSize == 512)
        #expect(tiny.acknowledged.isEmpty)
        #expect(tiny.ignored == [TFTPIgnoredOption("blksize", "out-of-range")])
        #expect(TFTPNegotiation(options: [TFTPOption("blksize", "8")], fileSize: 1).blockSize == 8)
    }

    @Test func windowAndTimeoutBounds() {
        #expect(TFTPNegotiation(options: [TFTPOption("windowsize", "65535")], fileSize: 1).windowSize == 64)
        #expect(TFTPNegotiation(options: [TFTPOption("windowsize", "0")], fileSize: 1).windowSize == 1)
        #expect(TFTPNegotiation(options: [TFTPOption("windowsize", "99999999999")], fileSize: 1).ignored
            == [TFTPIgnoredOption("windowsize", "not-a-number")])
        #expect(TFTPNegotiation(options: [TFTPOption("timeout", "0")], fileSize: 1).acknowledged.isEmpty)
        #expect(TFTPNegotiation(options: [TFTPOption("timeout", "256")], fileSize: 1).acknowledged.isEmpty)
        #expect(TFTPNegotiation(options: [TFTPOption("timeout", "255")], fileSize: 1).timeoutMilliseconds == 255_000)
    }

    @Test func garbageUnknownAndRepeatedOptionsAreIgnored() {
        let negotiation = TFTPNegotiation(
            options: [TFTPOption("blksize", "12x"), TFTPOption("multicast", ""), TFTPOption("blksize", "-5"),
                      TFTPOption("tsize", "0"), TFTPOption("TSize", "0"), TFTPOption("blksize", " 1024")],
            fileSize: 5)
        #expect(negotiation.blockSize == 512)
        #expect(negotiation.acknowledged == [TFTPOption("tsize", "5")])
        #expect(negotiation.ignored.map(\.reason) == ["not-a-number", "unknown", "duplicate", "duplicate", "duplicate"])
    }

    @Test func noOptionsMeansNoOACK() {
        #expect(TFTPNegotiation(options: [], fileSize: 10).acknowledged.isEmpty)
    }
}

@Suite struct TFTPPathTests {
    @Test func acceptsWhatBootROMsSend() {
        #expect(TFTPPath.normalize("/pxelinux.0") == .success("pxelinux.0"))
        #expect(TFTPPath.normalize("boot\\x64\\ipxe.efi") == .success("boot/x64/ipxe.efi"))
        #expect(TFTPPath.normalize("hosts//a/./boot.ipxe") == .success("hosts/a/boot.ipxe"))
        #expect(TFTPPath.normalize("/etc/passwd") == .success("etc/passwd"))
        #expect(TFTPPath.normalize("a..b/..c") == .success("a..b/..c"))
    }

    @Test func refusesClimbingOutAndNothing() {
        #expect(TFTPPath.normalize("../etc/passwd") == .failure(.parentComponent))
        #expect(TFTPPath.normalize("a/../../etc/passwd") == .failure(.parentComponent))
        #expect(TFTPPath.normalize("..\\..\\windows") == .failure(.parentComponent))
        #expect(TFTPPath.normalize("a/..") == .failure(.parentComponent))
        #expect(TFTPPath.normalize("") == .failure(.empty))
        #expect(TFTPPath.normalize("/") == .failure(.empty))
        #expect(TFTPPath.normalize("./.") == .failure(.empty))
        #expect(TFTPPath.normalize("a\u{0}b") == .failure(.containsNUL))
    }
}
