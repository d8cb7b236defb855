import AdminAPI
import Boot
import Foundation
import TestSupport
import Testing
import Zone

@Suite struct AdminTokensTests {
    func write(_ text: String, mode: Int) throws -> String {
        let path = NSTemporaryDirectory() + "zoneboot-tokens-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode_t(mode)) == 0)
        return path
    }

    @Test func aFileOthersCanReadIsRefused() throws {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = try write("ops:0123456789abcdef0123\n", mode: mode)
            defer { unlink(path) }
            #expect(throws: AdminTokens.Problem.tooOpen(path, mode: String(mode, radix: 8))) { try AdminTokens.load(path: path) }
        }
    }

    @Test func anOwnerOnlyFileNamesWhoPresentsEachToken() throws {
        let path = try write("# who:token\nops:0123456789abcdef0123\n\nci:fedcba9876543210fedc:with-colon\n", mode: 0o600)
        defer { unlink(path) }
        let tokens = try AdminTokens.load(path: path)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc:with-colon") == "ci")
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef012") == nil)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef01234") == nil)
        #expect(tokens.name(authorization: "0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: nil) == nil)
    }

    @Test func crlfLinesMatchAsLFLinesDo() throws {
        let path = try write("# who:token\r\nops:0123456789abcdef0123\r\n\r\nci:fedcba9876543210fedc\r\n", mode: 0o600)
        defer { unlink(path) }
        let tokens = try AdminTokens.load(path: path)
        #expect(tokens.count == 2)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc") == "ci")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc\r") == nil)
        #expect(throws: AdminTokens.Problem.badLine("t", line: 3, reason: "expected name:token or name:read:token")) {
            try AdminTokens.parse("ops:0123456789abcdef0123\r\n\r\njusttoken\r\n", path: "t")
        }
        // zonectl's side: a client token file written on Windows.
        #expect(AdminTokens.clientToken(in: "# mine\r\nops:0123456789abcdef0123\r\n") == "0123456789abcdef0123")
        #expect(AdminTokens.clientToken(in: "0123456789abcdef0123\r\n") == "0123456789abcdef0123")
        #expect(AdminTokens.clientToken(in: "# none\r\n\r\n") == nil)
    }

    @Test func theBearerSchemeIsCaseInsensitiveTheTokenIsNot() {
        let tokens = AdminTokens(tokens: ["0123456789abcdef0123": "ops"])
        for scheme in ["Bearer", "bearer", "BEARER", "bEARER"] {
            #expect(tokens.name(authorization: "\(scheme) 0123456789abcdef0123") == "ops")
        }
        #expect(tokens.name(authorization: "bearer  0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer 0123456789ABCDEF0123") == nil)
        #expect(tokens.name(authorization: "Basic 0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: "Bearer0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: "Bearer") == nil)
        #expect(tokens.name(authorization: "") == nil)
    }

    @Test func aSymbolicLinkFIFOOrDirectoryIsRefusedByWhatItIs() throws {
        let target = try write("ops:0123456789abcdef0123\n", mode: 0o600)
        let link = target + ".link", fifo = target + ".fifo", directory = target + ".dir"
        defer { for path in [target, link, fifo] { unlink(path) }; rmdir(directory) }
        #expect(symlink(target, link) == 0)
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(mkdir(directory, 0o700) == 0)
        #expect(throws: AdminTokens.Problem.notRegularFile(link, kind: "a symbolic link")) { try AdminTokens.load(path: link) }
        #expect(throws: AdminTokens.Problem.notRegularFile(fifo, kind: "a FIFO")) { try AdminTokens.load(path: fifo) }
        #expect(throws: AdminTokens.Problem.notRegularFile(directory, kind: "a directory")) {
            try AdminTokens.load(path: directory)
        }
        #expect(throws: AdminTokens.Problem.notRegularFile("/dev/null", kind: "a character device")) {
            try AdminTokens.load(path: "/dev/null")
        }
        #expect(AdminTokens.Problem.notRegularFile(fifo, kind: "a FIFO").description
            == "the token file \(fifo) is a FIFO: it must be a regular file (not a symbolic link, FIFO or device)")
        #expect(try AdminTokens.load(path: target).count == 1)
    }

    /// Only root can give a file to another user.
    @Test(.enabled(if: geteuid() == 0)) func aFileOwnedBySomeoneElseIsRefused() throws {
        let path = try write("ops:0123456789abcdef0123\n", mode: 0o600)
        defer { unlink(path) }
        #expect(chown(path, 4242, 4242) == 0)
        #expect(throws: AdminTokens.Problem.wrongOwner(path, owner: 4242, expected: 0)) { try AdminTokens.load(path: path) }
        #expect(chown(path, 0, 0) == 0)
        #expect(try AdminTokens.load(path: path).count == 1)
    }

    @Test func reloadingDropsARemovedTokenAndABrokenFileKeepsTheOldOnes() throws {
        let path = try write("ops:0123456789abcdef0123\nci:fedcba9876543210fedc\n", mode: 0o600)
        defer { unlink(path) }
        let file = try AdminTokenFile(path: path)
        #expect(file.name(authorization: "Bearer fedcba9876543210fedc") == "ci")
        try "ops:0123456789abcdef0123\n".write(toFile: path, atomically: false, encoding: .utf8)
        try file.reload()
        #expect(file.name(authorization: "Bearer fedcba9876543210fedc") == nil)
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        // A typo: refused, and the tokens read before still work.
        try "ops:short\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: AdminTokens.Problem.badLine(path, line: 1, reason: "the token of ops is shorter than 16 characters")) {
            try file.reload()
        }
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(chmod(path, 0o644) == 0)
        #expect(throws: AdminTokens.Problem.tooOpen(path, mode: "644")) { try file.reload() }
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
    }

    @Test func linesMayScopeATokenToReadOrWrite() throws {
        let tokens = try AdminTokens.parse("""
            ops:0123456789abcdef0123
            audit:read:fedcba9876543210fedc
            ci:write:aaaabbbbccccddddeeee
            odd:reader:0000111122223333
            """, path: "t")
        #expect(tokens.holder(authorization: "Bearer 0123456789abcdef0123") == TokenHolder(name: "ops", scope: .write))
        #expect(tokens.holder(authorization: "Bearer fedcba9876543210fedc") == TokenHolder(name: "audit", scope: .read))
        #expect(tokens.holder(authorization: "Bearer aaaabbbbccccddddeeee") == TokenHolder(name: "ci", scope: .write))
        // Not a scope: the rest of the line is the token, as before scopes existed.
        #expect(tokens.holder(authorization: "Bearer reader:0000111122223333") == TokenHolder(name: "odd", scope: .write))
        #expect(tokens.holder(authorization: "Bearer read:fedcba9876543210fedc") == nil)
        #expect((tokens.count(.read), tokens.count(.write)) == (1, 3))
        #expect(throws: AdminTokens.Problem.badLine("t", line: 1, reason: "the token of audit is shorter than 16 characters")) {
            try AdminTokens.parse("audit:read:short", path: "t")
        }
        // zonectl reads its own file the same way.
        #expect(AdminTokens.clientToken(in: "audit:read:fedcba9876543210fedc\n") == "fedcba9876543210fedc")
        #expect(AdminTokens.clientToken(in: "ci:write:aaaabbbbccccddddeeee\r\n") == "aaaabbbbccccddddeeee")
    }

    @Test func whoMayDoWhatIsOneTable() {
        let tokens = AdminTokens(holders: ["0123456789abcdef0123": TokenHolder(name: "ops", scope: .write),
                                           "fedcba9876543210fedc": TokenHolder(name: "audit", scope: .read)])
        let write = "Bearer 0123456789abcdef0123", read = "Bearer fedcba9876543210fedc", unknown = "Bearer 9999999999999999"
        func decide(_ needs: AdminScope, _ tokens: AdminTokens?, _ header: String?, loopback: Bool = false) -> String {
            switch AdminAccess.decide(needs: needs, tokens: tokens, authorization: header, loopbackPeer: loopback) {
            case .allowed(let holder): "allowed \(holder?.name ?? "-")"
            case .unauthorized(_, let why): "401 \(why)"
            case .forbidden(_, let why): "403 \(why)"
            }
        }
        #expect(decide(.read, tokens, read) == "allowed audit")
        #expect(decide(.read, tokens, write) == "allowed ops")
        #expect(decide(.write, tokens, write) == "allowed ops")
        #expect(decide(.write, tokens, read) == "403 read token of audit on a write route")
        #expect(decide(.read, tokens, nil) == "401 no token")
        #expect(decide(.read, tokens, nil, loopback: true) == "401 no token")
        #expect(decide(.write, tokens, unknown) == "401 unknown token")
        // No token file: reads for this host's clients only, never a write.
        #expect(decide(.read, nil, nil, loopback: true) == "allowed -")
        #expect(decide(.read, nil, write, loopback: false) == "401 no token file, peer not on loopback")
        #expect(decide(.write, nil, write, loopback: true) == "401 no token file")
    }

    @Test func anOwnerOnlyFileNamesWhatItIsFor() throws {
        let path = try write("-----BEGIN PRIVATE KEY-----\n", mode: 0o640)
        defer { unlink(path) }
        #expect(OwnerOnlyFile.contents(path: path, maximumSize: 1 << 20) == .failure(.tooOpen(mode: "640")))
        #expect(OwnerOnlyFile.Problem.tooOpen(mode: "640").message("the TLS key file", path)
            == "the TLS key file \(path) has mode 640: group and others must not read it (chmod 600 \(path))")
        #expect(chmod(path, 0o600) == 0)
        #expect(OwnerOnlyFile.contents(path: path, maximumSize: 1 << 20) == .success(Array("-----BEGIN PRIVATE KEY-----\n".utf8)))
    }

    @Test func badFilesSayWhichLine() {
        #expect(throws: AdminTokens.Problem.badLine("t", line: 2, reason: "expected name:token or name:read:token")) {
            try AdminTokens.parse("ops:0123456789abcdef0123\njusttoken\n", path: "t")
        }
        #expect(throws: AdminTokens.Problem.badLine("t", line: 1, reason: "the token of ops is shorter than 16 characters")) {
            try AdminTokens.parse("ops:short", path: "t")
        }
        #expect(throws: AdminTokens.Problem.empty("t")) { try AdminTokens.parse("# nothing\n", path: "t") }
    }
}

@Suite struct SavedPlanTests {
    @Test func aSavedPlanReadsBackExactly() throws {
        let revision = try ZoneLoader.load(path: exampleZonePath)
        let plan = ZonePlan(from: nil, fromRevision: nil, to: revision)
        var impact = LiveImpact()
        impact.readdressed.append(.init(location: "p01/tor-a/swp7", mac: "52:54:00:00:00:07", name: "a",
                                        address: revision.identities[0].address, newName: "a",
                                        newAddress: revision.identities[1].address))
        let saved = SavedPlan(baseRevision: 3, against: "revision 3", source: revision.source, plan: plan, impact: impact)
        let data = try JSONStyle.encoder(pretty: true).encode(saved)
        let back = try JSONStyle.decoder().decode(SavedPlan.self, from: data)
        #expect(back == saved)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"base_revision\" : 3") && !text.contains("baseRevision"))
        // Template paths are data: kept as written, not converted.
        #expect(saved.source.files.keys.allSatisfy { text.contains("\"\($0)\"") })
        // A plan saved by an earlier zonectl, in camelCase, still reads.
        #expect(try JSONStyle.decoder().decode(SavedPlan.self, from: try JSONEncoder().encode(saved)) == saved)
        #expect(back.source.digest == revision.source.digest)
        // The saved source loads to the same zone: applying it is applying what was planned.
        #expect(try ZoneLoader.load(source: back.source).identities == revision.identities)
    }
}

@Suite struct TerminalTextTests {
    @Test func controlCharactersAreShownNotObeyed() {
        #expect(terminalEscaped("evil\u{1B}[2J\u{1B}]0;title\u{07}\rover\u{00}written")
            == #"evil\x1b[2J\x1b]0;title\x07\x0dover\x00written"#)
        #expect(terminalEscaped("tab\there\nnext\u{7F}") == #"tab\x09here\x0anext\x7f"#)
        // C1 controls (U+009B is a one-character CSI on some terminals) and bidirectional overrides.
        #expect(terminalEscaped("a\u{9B}31mb\u{85}c\u{202E}d\u{2066}") == #"a\u{9b}31mb\u{85}c\u{202e}d\u{2066}"#)
    }

    @Test func printableTextIsKeptAsItIs() {
        for text in ["", "ProLiant DL380 Gen10", "CZ2D1234 \\x1b", "Ünïcödé 服务器 🚀", "a:b/c;d=e[f]"] {
            #expect(terminalEscaped(text) == text)
        }
    }
}
