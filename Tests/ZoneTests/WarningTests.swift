import Foundation
import Testing
@testable import Zone

/// Zones that load but would not work as written get warnings, positioned like errors;
/// `--strict` makes them errors. A template variable ZoneBoot does not set is an error.
struct WarningTests {
    /// The example zone's templates, one of them replaced.
    private func loadWithTemplate(_ path: String, _ text: String, zone: String = exampleZoneText,
                                  strict: Bool = false) -> Result<ZoneRevision, ZoneLoadError> {
        var files = (try? loadZone(exampleZoneText).get().source.files) ?? [:]
        files[path] = text
        do {
            return .success(try ZoneLoader.load(ZoneSource(zoneFile: "ams1.yaml", text: zone, files: files),
                                                 files: StoredFiles(files: files), strict: strict))
        } catch { return .failure(error) }
    }

    // MARK: A gateway missing from its pod's relays

    /// The example's mgmt network (the switches' management ports) is relayed from its
    /// gateway 198.18.18.1: without it in `relays`, those requests would be dropped.
    @Test func aGatewayMissingFromTheRelaysIsAWarningAtTheGateway() throws {
        let revision = try loadZone(editedExample([("relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]", "relays: [198.18.16.1, 198.18.17.1]")])).get()
        let warning = try #require(revision.warnings.first)
        #expect(revision.warnings.count == 1)
        #expect(warning.severity == .warning)
        #expect(warning.path == "pods[0].networks.mgmt.gateway")
        #expect(warning.at == SourcePosition(file: "ams1.yaml", line: 24, column: 51))
        #expect(warning.message.hasPrefix("gateway 198.18.18.1 of network mgmt is not in pod p01's relays"))
        #expect(warning.notes.first?.at == SourcePosition(file: "ams1.yaml", line: 20, column: 14))
    }

    @Test func gatewaysListedAsRelaysAndPodsWithoutRelaysAreQuiet() throws {
        #expect(try loadZone(exampleZoneText).get().warnings.isEmpty)
        let direct = editedExample([("relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]", "relays: []")])
        #expect(try loadZone(direct).get().warnings.isEmpty)
    }

    // MARK: Boot profiles without a boot server

    @Test func bootProfilesWithoutABootServerIsAWarningAtTheFirstRole() throws {
        let text = editedExample([("  boot-server: 198.18.0.10       # next-server / where TFTP and HTTP are reached\n", "")])
        let revision = try loadZone(text).get()
        let warning = try #require(revision.warnings.first)
        #expect(revision.warnings.count == 1)
        #expect(warning.path == "roles.hypervisor.boot")
        #expect(warning.at?.line == 43)
        #expect(warning.message.hasPrefix("role hypervisor boots profile centos7-kvm (and 3 other role(s) boot theirs) "
            + "but defaults.boot-server is not set"))
    }

    // MARK: CRLF templates

    @Test func aCRLFTemplateIsAWarningAtItsFirstLineEnd() throws {
        let revision = try loadWithTemplate("templates/centos7.ipxe", "#!ipxe\r\nchain {{boot_url}}/x\r\n").get()
        let warning = try #require(revision.warnings.first { $0.message.contains("CRLF") })
        #expect(warning.severity == .warning)
        #expect(warning.path == "profiles.centos7-kvm.ipxe")
        #expect(warning.at == SourcePosition(file: "templates/centos7.ipxe", line: 1, column: 7))
        #expect(warning.notes.first?.at?.file == "ams1.yaml")
    }

    // MARK: --strict

    @Test func strictMakesEveryWarningAnError() {
        guard case .failure(let error) = loadWithTemplate("templates/centos7.ipxe", "#!ipxe\r\n", strict: true) else {
            Issue.record("a zone with warnings loaded under --strict")
            return
        }
        // The CRLF template's warning, as an error.
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.allSatisfy { $0.severity == .error })
        #expect(error.description.hasSuffix("1 error.\n"))
    }

    /// A refused zone reports its errors only: its warnings come once it loads.
    @Test func aZoneWithErrorsReportsNoWarnings() {
        guard case .failure(let error) = loadZone(editedExample([("lease: 12h", "lease: 12 hours")])) else {
            Issue.record("a broken zone loaded")
            return
        }
        #expect(error.diagnostics.map(\.severity) == [.error])
    }

    // MARK: Template variables

    @Test func anUnknownTemplateVariableIsAnErrorWhereItIsWritten() {
        guard case .failure(let error) = loadWithTemplate("templates/centos7.ipxe", "#!ipxe\nset host {{hostname}}\n") else {
            Issue.record("{{hostname}} loaded")
            return
        }
        #expect(error.errorCount == 1)
        let diagnostic = error.diagnostics[0]
        #expect(diagnostic.path == "profiles.centos7-kvm.ipxe")
        #expect(diagnostic.at == SourcePosition(file: "templates/centos7.ipxe", line: 2, column: 12))
        #expect(diagnostic.message.hasPrefix("template variable 'hostname' is not one ZoneBoot sets: it would render as nothing"))
        #expect(error.description.contains(" 2 | set host {{hostname}}\n   |            ^\n"))
    }

    @Test func everyDocumentedFormIsAccepted() {
        let text = """
            {{name}} {{{fqdn}}} {{& address}} {{ gateway }} {{uppercased(name)}} {{kind}} {{serial}} {{model}} {{mac}}
            {{#dns}}{{.}}{{^last()}},{{/last()}}{{/dns}} {{#ntp}}{{.}}{{#first()}}!{{/first()}}{{/ntp}}
            {{#chef}}{{environment}} {{#run_list}}{{.}}{{/run_list}} {{attributes.anything.deep}}{{/chef}}
            {{chef.attributes.chef_client.config}} {{#chef.attributes}}{{whatever}}{{/chef.attributes}}
            {{ansible.vars.kvm}} {{#ansible}}{{#groups}}{{.}}{{/groups}}{{vars.x}}{{/ansible}}
            {{#boot_url}}{{boot_url}}/x {{name}}{{/boot_url}} {{! a comment {{nothing}} }} {{ztp}} {{installer_url}}
            {{bootstrap.chef-client-key.url}} {{#bootstrap}}{{anything}}{{/bootstrap}}
            {{=<% %>=}}<% rack %> <%unit%> {{not a tag here}}<%={{ }}=%> {{pod}}
            """
        #expect(TemplateVariables.unknown(in: text) == [])
    }

    @Test func unknownNamesAreFoundInEveryForm() {
        let text = """
            {{hostname}}
            {{{ip}}} {{& mask}} {{lowercased(nam)}}
            {{#chef}}{{runlist}}{{/chef}} {{chef.env}} {{ansible.groupz}} {{name.first}}
            {{#nope}}{{inside_is_not_reported}}{{/nope}} {{^last()}}{{/last()}} {{^lst()}}{{/lst()}}
            """
        let found = TemplateVariables.unknown(in: text)
        #expect(found.map(\.name) == ["hostname", "ip", "mask", "lowercased(nam)", "runlist", "chef.env", "ansible.groupz",
                                      "name.first", "nope", "lst()"])
        #expect(found.map(\.line) == [1, 2, 2, 2, 3, 3, 3, 3, 4, 4])
        #expect(found.first { $0.name == "lowercased(nam)" }?.message.contains("(did you mean 'name'?)") == true)
        #expect(found.first { $0.name == "runlist" }?.message.contains("(did you mean 'run_list'?)") == true)
        #expect(found.last?.message.hasPrefix("'lst()' is not a method of a list item") == true)
    }
}
