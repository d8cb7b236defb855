import Etcd
import Foundation
import TestSupport
import Testing

/// The JSON gateway's encoding, checked against answers captured from etcd 3.4.23.
struct EtcdCodecTests {
    private func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    private func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// Transactions are cut at etcd's limit, in order, whatever the collection's first index.
    @Test func batchesHoldAtMostATransactionsOperations() {
        #expect(EtcdTxnRequest.batches([Int]()).isEmpty)
        let items = Array(0..<300)
        #expect(EtcdTxnRequest.batches(items).map(\.count) == [128, 128, 44])
        #expect(EtcdTxnRequest.batches(items).flatMap { $0 } == items)
        let tail = items[5...]
        #expect(EtcdTxnRequest.batches(tail).map(\.count) == [128, 128, 39])
        #expect(EtcdTxnRequest.batches(tail).flatMap { $0 } == Array(tail))
    }

    @Test func aPrefixRangeIsBase64KeysWithDecimalStrings() throws {
        let request = EtcdRangeRequest.prefix(Array("/z/revision/summary/".utf8), limit: 5, sortOrder: .descend)
        let object = try json(EtcdCodec.encode(request))
        #expect(object["key"] as? String == b64("/z/revision/summary/"))
        #expect(object["range_end"] as? String == b64("/z/revision/summary0"))
        #expect(object["limit"] as? String == "5")
        #expect(object["sort_order"] as? String == "DESCEND")
        #expect(object["sort_target"] as? String == "KEY")
        #expect(object["min_mod_revision"] == nil)
        let changed = try json(EtcdCodec.encode(EtcdRangeRequest.prefix(Array("/z/leases/".utf8), minModRevision: 42)))
        #expect(changed["min_mod_revision"] as? String == "42")
    }

    @Test func aPrefixEndsAtTheNextKeyAfterEveryKeyUnderIt() {
        #expect(Array("/a/".utf8).prefixRangeEnd == Array("/a0".utf8))
        #expect([0x61, 0xFF].prefixRangeEnd == [0x62])
        #expect([0xFF, 0xFF].prefixRangeEnd == [0])
    }

    @Test func aTransactionNamesItsComparisonAndBranchesAsTheGatewayReadsThem() throws {
        let head = Array("/z/revision/head".utf8)
        let request = EtcdTxnRequest(
            compare: [EtcdCompare(key: head, .modRevision(7))],
            success: [.put(EtcdPutRequest(key: head, value: Array("2".utf8), lease: 42))],
            failure: [.range(EtcdRangeRequest(key: head))])
        let object = try json(EtcdCodec.encode(request))
        let compare = try #require((object["compare"] as? [[String: Any]])?.first)
        #expect(compare["target"] as? String == "MOD")
        #expect(compare["result"] as? String == "EQUAL")
        #expect(compare["mod_revision"] as? String == "7")
        let put = try #require((object["success"] as? [[String: Any]])?.first?["request_put"] as? [String: Any])
        #expect(put["value"] as? String == b64("2"))
        #expect(put["lease"] as? String == "42")
        #expect((object["failure"] as? [[String: Any]])?.first?["request_range"] != nil)
    }

    @Test func aRangeAnswerDecodesWithItsRevisions() throws {
        let answer = #"{"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}"#
        let range = try EtcdCodec.decodeRange(Array(answer.utf8))
        #expect(range.header.revision == 2)
        #expect(range.header.memberID == 13_668_033_151_171_901_709)
        #expect(range.count == 1)
        #expect(range.kvs == [EtcdKeyValue(key: Array("foo".utf8), value: Array("bar".utf8), createRevision: 2, modRevision: 2, version: 1)])
    }

    /// proto3 leaves zero values out: no "kvs", no "count", no "succeeded".
    @Test func absentFieldsAreTheirZeroValues() throws {
        let empty = try EtcdCodec.decodeRange(Array(#"{"header":{"revision":"2"}}"#.utf8))
        #expect(empty.kvs.isEmpty && empty.count == 0 && !empty.more)
        let lost = #"{"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}}]}"#
        let txn = try EtcdCodec.decodeTxn(Array(lost.utf8))
        #expect(!txn.succeeded)
        guard case .range(let range)? = txn.responses.first else { Issue.record("no range response"); return }
        #expect(range.kvs.first?.modRevision == 2)
        let won = try EtcdCodec.decodeTxn(Array(#"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#.utf8))
        #expect(won.succeeded && won.responses == [.put(EtcdPutResponse(header: EtcdHeader(revision: 3)))])
    }

    @Test func leasesDecodeFromGrantAndKeepAliveAnswers() throws {
        let grant = try EtcdCodec.decodeLease(Array(#"{"header":{"revision":"3"},"ID":"4111120468013587978","TTL":"5"}"#.utf8))
        #expect(grant == EtcdLease(id: 4_111_120_468_013_587_978, ttl: 5))
        let renewed = try EtcdCodec.decodeKeepAlive(Array(#"{"result":{"header":{"revision":"3"},"ID":"4111120468013587978","TTL":"5"}}"#.utf8))
        #expect(renewed.ttl == 5)
        #expect(try json(EtcdCodec.encodeLeaseGrant(ttl: 10))["TTL"] as? String == "10")
    }

    @Test func aWatchStreamDecodesLineByLineAcrossChunks() throws {
        let stream = #"{"result":{"header":{"revision":"3"},"created":true}}"# + "\n"
            + #"{"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"}}]}}"# + "\n"
        let bytes = Array(stream.utf8)
        var frames = EtcdStreamFrames()
        var messages: [[UInt8]] = []
        // Cut at every 7th byte: a message split anywhere is put back together.
        for start in stride(from: 0, to: bytes.count, by: 7) {
            messages += try frames.append(bytes[start..<min(start + 7, bytes.count)])
        }
        #expect(messages.count == 2)
        let created = try EtcdCodec.decodeWatch(messages[0])
        #expect(created.created && created.events.isEmpty)
        let events = try EtcdCodec.decodeWatch(messages[1]).events
        #expect(events.map(\.kind) == [.put, .delete])
        #expect(events[0].kv.value == Array("bar".utf8))
        #expect(events[1].kv.modRevision == 4)
    }

    @Test func aMessageLongerThanTheBoundIsAnError() {
        var frames = EtcdStreamFrames(maximumMessageSize: 16)
        #expect(throws: EtcdError.self) { _ = try frames.append(Array(repeating: UInt8(ascii: "x"), count: 17)) }
    }

    @Test func aGatewayErrorIsAServerError() {
        let body = Array(#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#.utf8)
        #expect(throws: EtcdError.server(code: 5, message: "etcdserver: requested lease not found")) {
            _ = try EtcdCodec.decodeRevoke(body)
        }
        let streamed = Array(#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}}"#.utf8)
        #expect(throws: EtcdError.server(code: 14, message: "etcdserver: no leader")) { _ = try EtcdCodec.decodeWatch(streamed) }
    }

    @Test(arguments: [
        "", "null", "[]", "42", "\"x\"", "{", "{\"kvs\":\"x\"}", "{\"kvs\":[1]}", "{\"kvs\":[{\"key\":\"!!!\"}]}",
        "{\"count\":\"abc\"}", "{\"count\":1e300}", "{\"header\":[]}", "{\"header\":{\"member_id\":\"-1\"}}",
        "{\"more\":\"yes\"}", "{\"kvs\":[{\"mod_revision\":\"99999999999999999999\"}]}", "<html>502 Bad Gateway</html>",
    ])
    func aMalformedAnswerIsAnErrorNeverATrap(_ body: String) {
        #expect(throws: EtcdError.self) { _ = try EtcdCodec.decodeRange(Array(body.utf8)) }
    }

    @Test func malformedTransactionAndWatchAnswersAreErrors() {
        for body in ["{\"responses\":[{}]}", "{\"responses\":[7]}", "{\"responses\":{}}", "{\"succeeded\":\"true\"}"] {
            #expect(throws: EtcdError.self) { _ = try EtcdCodec.decodeTxn(Array(body.utf8)) }
        }
        for body in ["{}", "{\"result\":{\"events\":[{\"type\":\"MOVE\",\"kv\":{}}]}}", "{\"result\":{\"events\":[{}]}}"] {
            #expect(throws: EtcdError.self) { _ = try EtcdCodec.decodeWatch(Array(body.utf8)) }
        }
    }

    /// Valid answers with bytes changed, cut or inserted at random: every one decodes or is an error.
    @Test func mutatedAnswersNeverTrap() {
        let answers = [
            #"{"header":{"revision":"2","member_id":"1"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}"#,
            #"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}},{"response_range":{"kvs":[{"key":"Zm9v"}]}}]}"#,
            #"{"result":{"header":{"revision":"3"},"events":[{"type":"DELETE","kv":{"key":"Zm9v"},"prev_kv":{"key":"Zm9v","value":"YmFy"}}]}}"#,
        ].map { Array($0.utf8) }
        var random = SplitMix64(state: 17)
        for round in 0..<3_000 {
            var bytes = answers[round % answers.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.removeSubrange(at...)
                default: bytes.insert(contentsOf: Array("\"[{}]:,-9".utf8).shuffled(using: &random).prefix(2), at: at)
                }
                if bytes.isEmpty { break }
            }
            _ = try? EtcdCodec.decodeRange(bytes)
            _ = try? EtcdCodec.decodeTxn(bytes)
            _ = try? EtcdCodec.decodeWatch(bytes)
            _ = try? EtcdCodec.decodeLease(bytes)
        }
    }

    /// Which failures another member may answer: a member without a leader yes, a bad request no.
    @Test func onlyAMemberProblemIsRetriedOnAnotherMember() {
        #expect(EtcdError.server(code: 14, message: "etcdserver: no leader").isRetryableOnAnotherMember)
        // Seen from a member stopped with SIGTERM while the others kept a quorum.
        #expect(EtcdError.server(code: 1, message: "grpc: the client connection is closing").isRetryableOnAnotherMember)
        #expect(EtcdError.unreachable(endpoints: ["http://198.18.0.1:2379"], lastError: "refused").isRetryableOnAnotherMember)
        #expect(!EtcdError.server(code: 3, message: "bad key").isRetryableOnAnotherMember)
        #expect(!EtcdError.requestTooLarge(bytes: 2_000_000, limit: 1_572_864).isRetryableOnAnotherMember)
    }
}
