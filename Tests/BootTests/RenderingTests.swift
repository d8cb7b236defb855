import Addressing
import Boot
import Foundation
import TestSupport
import Testing
import Zone

@Suite struct RenderingTests {
    let revision: ZoneRevision

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func host(_ port: String) throws -> Identity {
        try #require(revision.identity(at: Location(pod: "p01", switch: "tor-a", port: port)))
    }

    @Test func answerCarriesTheZoneOptions() throws {
        let answer = IdentityAnswer(identity: try host("swp7"), revision: revision)
        let byCode = Dictionary(uniqueKeysWithValues: answer.options.map { ($0.code, $0.value) })
        #expect(byCode[1] == .addresses([IPv4Address(255, 255, 255, 0)]))
        #expect(byCode[3] == .addresses([IPv4Address(198, 18, 16, 1)]))
        #expect(byCode[6] == .addresses([IPv4Address(198, 18, 0, 53)]))
        #expect(byCode[12] == .text("ams1-p01-r01-u07"))
        #expect(byCode[15] == .text("ams1.example.net"))
        #expect(byCode[42] == .addresses([IPv4Address(198, 18, 0, 123)]))
        #expect(byCode[51] == .seconds(43_200))
        #expect(byCode[58] == .seconds(21_600))
        #expect(byCode[59] == .seconds(37_800))
        #expect(answer.nextServer == IPv4Address(198, 18, 0, 10))
        #expect(answer.bootScriptURL == "http://198.18.0.10/hosts/ams1-p01-r01-u07/boot.ipxe")
        // Options go out in ascending code order, as clients and captures expect.
        #expect(answer.options.map(\.code) == answer.options.map(\.code).sorted())
    }

    @Test func bmcHasNoBootScript() throws {
        let bmc = try #require(revision.identity(named: "ams1-p01-r01-u07-lom"))
        #expect(IdentityAnswer(identity: bmc, revision: revision).bootScriptURL == nil)
        #expect(HostFiles.render(bmc, in: revision).isEmpty)
    }

    @Test func hostFilesAreRenderedFromTheHostsIdentity() throws {
        let files = HostFiles.render(try host("swp7"), in: revision)
        #expect(files.map(\.name) == ["boot.ipxe", "ks.cfg"])
        let script = files[0].content
        #expect(script.hasPrefix("#!ipxe\n"))
        #expect(script.contains("inst.ks=http://198.18.0.10/hosts/ams1-p01-r01-u07/ks.cfg"))
        #expect(script.contains("ip=198.18.16.17::198.18.16.1:255.255.255.0:ams1-p01-r01-u07:eth0:none nameserver=198.18.0.53"))
        let kickstart = files[1].content
        #expect(kickstart.contains("network --bootproto=static --ip=198.18.16.17 --netmask=255.255.255.0 --gateway=198.18.16.1 "
            + "--nameserver=198.18.0.53 --hostname=ams1-p01-r01-u07.ams1.example.net --activate"))
        #expect(!kickstart.contains("{{"))
    }

    @Test func outputIsNotHTMLEscaped() throws {
        var source = revision.source
        source.files["templates/centos7.ipxe"] = "#!ipxe\necho {{name}} & <{{fqdn}}> \"{{role}}\"\n"
        let edited = try ZoneLoader.load(source: source)
        let identity = try #require(edited.identity(named: "ams1-p01-r01-u01"))
        let script = try #require(HostFiles.render(identity, in: edited).first)
        #expect(script.content == "#!ipxe\necho ams1-p01-r01-u01 & <ams1-p01-r01-u01.ams1.example.net> \"hypervisor\"\n")
    }

    @Test func templatesSeeChefAnsibleAndLiveFacts() throws {
        var source = revision.source
        source.files["templates/centos7-ks.cfg"] =
            "{{#chef}}{{#run_list}}{{.}};{{/run_list}}{{environment}}{{/chef}}|{{#ansible}}{{#groups}}{{.}}{{/groups}}{{vars.kvm}}{{/ansible}}|{{mac}}"
        let edited = try ZoneLoader.load(source: source)
        let identity = try #require(edited.identity(named: "ams1-p01-r01-u02"))
        let files = HostFiles.render(identity, in: edited, facts: ["mac": "52:54:00:12:34:56"])
        #expect(files.last?.content == "role[hypervisor];production|hypervisorstrue|52:54:00:12:34:56")
    }
}
