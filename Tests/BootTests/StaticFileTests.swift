@testable import Boot
import Foundation
import TestSupport
import Testing

/// Range requests, file paths below a served directory, and the answers built from them.
@Suite struct StaticFileTests {
    // MARK: ByteRange

    @Test(arguments: [
        // (header, size, expected)
        ("bytes=0-3", 100, ByteRange.part(first: 0, last: 3)),
        ("bytes=10-", 100, .part(first: 10, last: 99)),
        ("bytes=90-1000", 100, .part(first: 90, last: 99)),
        ("bytes=99-99", 100, .part(first: 99, last: 99)),
        ("bytes=-10", 100, .part(first: 90, last: 99)),
        ("bytes=-1000", 100, .part(first: 0, last: 99)),
        ("BYTES = 5-6", 100, .part(first: 5, last: 6)),
        ("bytes=, 5-6 ,", 100, .part(first: 5, last: 6)),
        ("bytes=0-99999999999999999999999", 100, .part(first: 0, last: 99)),
        ("bytes=-99999999999999999999999", 100, .part(first: 0, last: 99)),
    ])
    func aRangeInsideTheFileIsServedAsAPart(header: String, size: Int, expected: ByteRange) {
        #expect(ByteRange(header: header, size: size) == expected)
    }

    @Test(arguments: [
        ("bytes=100-", 100), ("bytes=1000-2000", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=-5", 0),
        ("bytes=99999999999999999999999-", 100),
    ])
    func aRangeThatSelectsNothingIsUnsatisfiable(header: String, size: Int) {
        #expect(ByteRange(header: header, size: size) == .unsatisfiable)
    }

    @Test(arguments: [
        // Another unit, malformed specs, several ranges, a last position before the first: ignored.
        "items=0-3", "bytes=", "bytes=abc", "bytes=1-2-3", "bytes=-", "bytes=5-2", "bytes=0-1,4-5", "bytes=+1-2",
        "bytes 0-3", "", "=", "bytes=0x1-2", "bytes=\u{0}-1", "bytes=١-٢",
    ])
    func aHeaderNotHonouredServesTheWholeFile(header: String) {
        #expect(ByteRange(header: header, size: 100) == .whole)
    }

    @Test func noHeaderServesTheWholeFileAndLengthsAreNeverNegative() {
        #expect(ByteRange(header: nil, size: 7) == .whole)
        #expect(ByteRange.whole.length(size: 7) == 7)
        #expect(ByteRange.whole.length(size: -3) == 0)
        #expect(ByteRange.part(first: 2, last: 4).length(size: 7) == 3)
        #expect(ByteRange.unsatisfiable.length(size: 7) == 0)
        // A negative size (never from a real file) selects nothing rather than trapping.
        #expect(ByteRange(header: "bytes=0-1", size: -1) == .unsatisfiable)
    }

    @Test func anyBytesGiveAnAnswerWithinTheFile() {
        // Every 4-character header from a small alphabet, with and without "bytes=": never a part outside the file.
        let alphabet = Array("bytes=-0159, ")
        var headers = [""]
        for _ in 0..<4 { headers = headers.flatMap { prefix in alphabet.map { prefix + String($0) } } }
        for header in headers.map({ "bytes=" + $0 }) + headers {
            if case .part(let first, let last) = ByteRange(header: header, size: 50) {
                #expect(0 <= first && first <= last && last < 50, "\(header)")
            }
        }
    }

    // MARK: StaticFilePath

    @Test func plainPathsBelowThePrefixAreFiles() {
        #expect(StaticFilePath(requestPath: "/files/vmlinuz", prefix: "/files") == .file("vmlinuz"))
        #expect(StaticFilePath(requestPath: "/files/onie/installer.bin", prefix: "/files") == .file("onie/installer.bin"))
        #expect(StaticFilePath(requestPath: "/files/a%20b", prefix: "/files") == .file("a b"))
        #expect(StaticFilePath(requestPath: "/files/..hidden", prefix: "/files") == .file("..hidden"))
    }

    @Test func otherPathsBelongToOtherRoutes() {
        #expect(StaticFilePath(requestPath: "/filesx/a", prefix: "/files") == .elsewhere)
        #expect(StaticFilePath(requestPath: "/files", prefix: "/files") == .elsewhere)
        #expect(StaticFilePath(requestPath: "/hosts/a/b", prefix: "/files") == .elsewhere)
    }

    @Test(arguments: [
        "/files/", "/files/../tokens", "/files/a/../../etc/passwd", "/files/%2e%2e/tokens", "/files/..%2ftokens",
        "/files/a//b", "/files/./a", "/files/a/", "/files/a%00b", "/files/%zz", "/files/%4", "/files/%ff",
    ])
    func pathsThatAreNotPlainAreRefused(path: String) {
        #expect(StaticFilePath(requestPath: path, prefix: "/files") == .refused)
    }

    @Test func insideMeansStrictlyBelowTheRoot() {
        #expect(StaticFilePath.isInside(root: "/srv/files", path: "/srv/files/a"))
        #expect(StaticFilePath.isInside(root: "/srv/files/", path: "/srv/files/a/b"))
        #expect(!StaticFilePath.isInside(root: "/srv/files", path: "/srv/files"))
        #expect(!StaticFilePath.isInside(root: "/srv/files", path: "/srv/files2/a"))
        #expect(!StaticFilePath.isInside(root: "/srv/files", path: "/etc/passwd"))
        #expect(StaticFilePath.isInside(root: "/", path: "/etc/passwd"))
    }

    // MARK: StaticFileAnswer

    private let modified: Int64 = 784_111_777  // Sun, 06 Nov 1994 08:49:37 GMT
    private func answer(size: Int = 1000, _ request: StaticFileAnswer.Request) -> StaticFileAnswer {
        StaticFileAnswer(size: size, modified: modified, version: "v1", request: request)
    }
    private func header(_ answer: StaticFileAnswer, _ name: String) -> String? {
        answer.headers.first { $0.name.rawValue == name }?.value
    }

    @Test func aWholeFileIs200WithItsLengthAndValidators() {
        let whole = answer(.init())
        #expect(whole.status == 200)
        #expect(header(whole, "Content-Length") == "1000")
        #expect(header(whole, "Content-Range") == nil)
        #expect(header(whole, "ETag") == "\"v1\"")
        #expect(header(whole, "Last-Modified") == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(whole.body?.offset == 0 && whole.body?.length == 1000)
    }

    @Test func aRangeIs206WithItsPartsLengthAndRange() {
        let part = answer(.init(range: "bytes=-100"))
        #expect(part.status == 206)
        #expect(header(part, "Content-Length") == "100")
        #expect(header(part, "Content-Range") == "bytes 900-999/1000")
        #expect(part.body?.offset == 900 && part.body?.length == 100)
    }

    @Test func aRangePastTheEndIs416WithTheSizeAndNoBody() {
        let past = answer(.init(range: "bytes=1900-2000"))
        #expect(past.status == 416)
        #expect(header(past, "Content-Range") == "bytes */1000")
        #expect(header(past, "Content-Length") == "0")
        #expect(past.body == nil)
    }

    @Test func ifRangeNamingAnotherVersionServesTheWholeFile() {
        #expect(answer(.init(range: "bytes=0-9", ifRange: "\"v1\"")).status == 206)
        #expect(answer(.init(range: "bytes=0-9", ifRange: "Sun, 06 Nov 1994 08:49:37 GMT")).status == 206)
        #expect(answer(.init(range: "bytes=0-9", ifRange: "\"v0\"")).status == 200)
        // If-Range compares strongly: a weak tag never matches.
        #expect(answer(.init(range: "bytes=0-9", ifRange: "W/\"v1\"")).status == 200)
    }

    @Test func aMatchingValidatorIs304WithoutBody() {
        #expect(answer(.init(ifNoneMatch: "\"v0\", W/\"v1\"")).status == 304)
        #expect(answer(.init(ifNoneMatch: "*")).status == 304)
        #expect(answer(.init(ifNoneMatch: "\"v0\"")).status == 200)
        #expect(answer(.init(ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")).status == 304)
        // If-None-Match decides when both are present.
        #expect(answer(.init(ifNoneMatch: "\"v0\"", ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")).status == 200)
        #expect(answer(.init(ifNoneMatch: "\"v1\"")).body == nil)
    }

    @Test func anEmptyFileIsServedWholeAndAnyRangeOfItIs416() {
        #expect(answer(size: 0, .init()).status == 200)
        #expect(answer(size: 0, .init()).body?.length == 0)
        #expect(answer(size: 0, .init(range: "bytes=0-")).status == 416)
    }

    @Test func httpDatesAreIMFFixdateAndClamped() {
        #expect(HTTPDate.format(secondsSince1970: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSince1970: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSince1970: 1_764_892_800) == "Fri, 05 Dec 2025 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSince1970: -5) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSince1970: .max) == "Fri, 31 Dec 9999 23:59:59 GMT")
    }

    /// The one calendar conversion behind HTTP dates and host variables' ISO times agrees
    /// with Foundation's Gregorian calendar, before 1970 as well (from 1600: Foundation's
    /// calendar turns Julian before 1582, ours stays proleptic Gregorian).
    @Test func civilTimeAgreesWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var random = SplitMix64(state: 1970)
        let instants: [Int64] = [0, -1, 86_399, 86_400, 951_782_400, 253_402_300_799, -11_676_096_000]
            + (0..<2_000).map { _ in Int64.random(in: -11_676_096_000...253_402_300_799, using: &random) }
        for seconds in instants {
            let time = CivilTime(secondsSince1970: seconds)
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday],
                                                from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            let expected = [parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second].map { Int64($0!) }
            #expect([time.year, time.month, time.day, time.hour, time.minute, time.second] == expected, "\(seconds)")
            #expect(time.weekday == parts.weekday! - 1, "\(seconds)")
        }
        #expect(HostLiveState.iso8601(-1) == "1969-12-31T23:59:59Z")
    }
}
