import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchSensors
import XMPPAddress
import XMPPClient
import XMPPCore

/// Machine control: XEP-0325 (IoT control) `set` and XEP-0323 (IoT sensor data) momentary readout,
/// following their last published versions (both retracted, but the only standard vocabulary that
/// existing libraries speak). Both map onto ``DeviceCommand``s, so the checks are the chat's.
struct IoTFrontEnd {
    static let control = IoTControl.namespace
    static let sensorData = IoTSensorData.namespace

    let executor: CommandExecutor
    let client: XMPPClient
    let hardware: Hardware
    /// The wall clock (a test steps it). Read once per stamp: seconds and milliseconds from two reads
    /// can be almost a second apart across a second boundary.
    var wallClock: () -> (seconds: Int64, millis: Int) = { WallClock.now() }

    init(executor: CommandExecutor, client: XMPPClient, hardware: Hardware) {
        self.executor = executor
        self.client = client
        self.hardware = hardware
    }

    func install() {
        client.router.iq(Self.control, features: [Self.control]) { iq in self.set(iq) }
        client.router.iq(Self.sensorData, features: [Self.sensorData]) { iq in self.readout(iq) }
    }

    // MARK: XEP-0325 set

    /// At most this many parameters in one `<set>` (and never more than the device has outputs).
    static let maxParameters = 16

    /// `<set><boolean name='pump' value='true'/></set>`; `int` 0/1 too; `duration` pulses. Every
    /// parameter is checked before any runs; the reply comes when the last has run.
    ///
    /// A sender without a role is refused before anything of the request is looked at, with the same
    /// answer whatever it names (no output names leak), through the stranger gate: no audit line each,
    /// and no reply at all once the replies to strangers are spent.
    func set(_ iq: XMLElement) -> IQHandling {
        guard let from = iq.from else {
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "an XEP-0325 set needs a sender")))
        }
        let role = executor.policy.role(of: from)
        if role == .stranger { return executor.refuseStranger(iq, from, "XEP-0325 set", "switching is for the device's operators and owners") }
        guard iq.stanzaType == "set", let set = IoTControl.set(in: iq) else {
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "expected <set xmlns='\(Self.control)'>")))
        }
        // An iq normally carries no delay; one that does (stored and forwarded) is judged by it like chat.
        let context = CommandContext(from: from, role: role, frontEnd: "iot", age: CommandAge.from(stanza: iq, now: WallClock.milliseconds()))
        let commands: [(String, DeviceCommand)]
        switch parse(set) {
        case .failure(let f):
            executor.auditRefused(context, "XEP-0325 set", f.error)
            return .reply(error(iq, f.parameter, f.error))
        case .success(let c): commands = c
        }
        run(commands[...], context) { failure in
            if let (name, e) = failure {
                self.client.send(self.error(iq, name, e))
            } else {
                self.client.send(Stanza.result(for: iq, payload: IoTControl.setResponse))
            }
        }
        return .handled
    }

    /// A `<set>` in a `<message>` (XEP-0325 §3.1, fire and forget): the same checks as the iq form
    /// (role, age, rate limit, interlocks, pulse limits). `done` gets nil when every parameter ran, or
    /// the error to send back: a message of type `error` under the request's id, naming the parameter.
    /// The sender has a role (the caller refused strangers).
    func set(message: XMLElement, _ set: XMLElement, from: JID, role: Role, done: @escaping (XMLElement?) -> Void) {
        let context = CommandContext(from: from, role: role, frontEnd: "iot message", age: CommandAge.from(stanza: message, now: WallClock.milliseconds()))
        let commands: [(String, DeviceCommand)]
        switch parse(set) {
        case .failure(let f):
            executor.auditRefused(context, "XEP-0325 set", f.error)
            return done(error(message, f.parameter, f.error))
        case .success(let c): commands = c
        }
        run(commands[...], context) { failure in
            done(failure.map { self.error(message, $0.0, $0.1) })
        }
    }

    /// A parameter of a `<set>` that cannot run, and why.
    struct ParameterFailure: Error {
        let parameter: String?
        let error: StanzaError
        init(_ parameter: String?, _ error: StanzaError) {
            self.parameter = parameter
            self.error = error
        }
    }

    /// The commands a `<set>` asks for, every parameter checked before any runs.
    func parse(_ set: XMLElement) -> Result<[(String, DeviceCommand)], ParameterFailure> {
        let parameters = set.elements
        let limit = min(Self.maxParameters, max(1, hardware.config.outputs.count))
        guard parameters.count <= limit else {
            return .failure(.init(nil, StanzaError(.badRequest, text: "\(parameters.count) parameters in one set; at most \(limit) (one per output)")))
        }
        var commands: [(String, DeviceCommand)] = []
        var named: Set<String> = []
        for e in parameters {
            let p: IoTControl.Parameter
            switch IoTControl.parameter(e) {
            case .failure(.missingNameOrValue(let element)):
                return .failure(.init(nil, StanzaError(.badRequest, text: "a <\(element)> parameter needs name and value")))
            case .success(let parameter): p = parameter
            }
            let (name, value) = (p.name, p.value)
            guard named.insert(name.lowercased()).inserted else {
                return .failure(.init(name, StanzaError(.badRequest, text: "\(name) is named more than once in this set; set each output once")))
            }
            let command: DeviceCommand
            switch p.kind {
            case .boolean:
                guard let on = p.booleanValue else { return .failure(.init(name, StanzaError(.badRequest, text: "\(value) is not a boolean"))) }
                command = .set(output: name, on: on)
            case .int, .long:
                // Outputs are on or off: only 0 and 1, as written (not any xs:int that equals them).
                guard value == "0" || value == "1" else { return .failure(.init(name, StanzaError(.badRequest, text: "\(name) is on/off: use 0 or 1"))) }
                command = .set(output: name, on: value == "1")
            case .duration:
                guard let ms = p.durationMilliseconds, ms > 0 else { return .failure(.init(name, StanzaError(.badRequest, text: "\(value) is not an xs:duration such as PT5S"))) }
                command = .pulse(output: name, milliseconds: ms)
            case .other(let kind):
                return .failure(.init(name, StanzaError(.badRequest, text: "\(name) takes boolean, int (0/1) or duration (a pulse), not \(kind)")))
            }
            guard hardware.output(named: name) != nil || hardware.unavailable.keys.contains(where: { $0.lowercased() == name.lowercased() }) else {
                return .failure(.init(name, StanzaError(.itemNotFound, text: "no output \"\(name)\"")))
            }
            commands.append((name, command))
        }
        guard !commands.isEmpty else { return .failure(.init(nil, StanzaError(.badRequest, text: "no parameters to set"))) }
        return .success(commands)
    }

    /// Runs the commands in turn; `finish` gets nil when all ran, or the parameter that failed and why
    /// (the ones after it do not run).
    private func run(_ rest: ArraySlice<(String, DeviceCommand)>, _ context: CommandContext, _ finish: @escaping ((String, StanzaError)?) -> Void) {
        guard let (name, command) = rest.first else { return finish(nil) }
        executor.execute(command, context) { outcome in
            if let e = outcome.error { return finish((name, e)) }
            self.run(rest.dropFirst(), context, finish)
        }
    }

    /// An error reply naming the parameter at fault (`<setResponse><parameter name='…'/></setResponse>`),
    /// to an iq or a message.
    func error(_ iq: XMLElement, _ parameter: String?, _ e: StanzaError) -> XMLElement {
        IoTControl.errorReply(to: iq, parameter: parameter, e)
    }

    // MARK: XEP-0323 momentary readout

    /// `<req momentary='true'/>` → `<accepted/>`, then the fields in a message with `done='true'`.
    /// `<field name='…'/>` children restrict the readout.
    func readout(_ iq: XMLElement) -> IQHandling {
        guard let from = iq.from else {
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "an XEP-0323 request needs a sender")))
        }
        // The role first: a stranger learns nothing of the field names, and costs a reply only while
        // the gate has some.
        let role = executor.policy.role(of: from)
        if role == .stranger { return executor.refuseStranger(iq, from, "XEP-0323 readout", "readings are for the device's viewers, operators and owners") }
        guard case .success(let req) = IoTSensorData.readoutRequest(in: iq) else {
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "expected <req xmlns='\(Self.sensorData)'>")))
        }
        // Field names are matched without regard to case.
        let wanted = Set(req.fieldNames.map { $0.lowercased() })
        let known = Set(hardware.sensors.order.map { $0.lowercased() } + hardware.outputs.map { $0.name.lowercased() } + hardware.inputs.map { $0.name.lowercased() })
        if let unknown = wanted.first(where: { !known.contains($0) }) {
            return .reply(Stanza.error(for: iq, StanzaError(.itemNotFound, text: "no field \"\(unknown)\"")))
        }
        client.send(Stanza.result(for: iq, payload: IoTSensorData.accepted(req.id, queued: false)))
        client.send(fieldsMessage(to: from, key: req.id.key, seq: req.id.value, wanted: wanted))
        executor.execute(.read(sensor: nil), CommandContext(from: from, role: role, frontEnd: "iot")) { _ in }
        return .handled
    }

    /// The readout for request `seq` (named by `key`: `id` or `seqnr`), of the fields `wanted` (all
    /// when empty).
    func fieldsMessage(to: JID, key: String, seq: String, wanted: Set<String>) -> XMLElement {
        func include(_ name: String) -> Bool { wanted.isEmpty || wanted.contains(name.lowercased()) }
        var timestamps: [XMLElement] = []
        var errors: [XMLElement] = []
        let now = wallClock()
        let nowStamp = WallClock.iso8601(seconds: now.seconds, millis: now.millis)
        var byStamp: [String: [IoTSensorData.Field]] = [:]
        for name in hardware.sensors.order where include(name) {
            guard let sensor = hardware.sensors.sensors[name] else { continue }
            switch hardware.sensors.current(name) {
            case .ok(let r):
                let stamp = WallClock.iso8601(milliseconds: r.timestamp)
                let value: IoTSensorData.Field.Value
                switch r.value {
                case .number(let d): value = .numeric(SensorValue.number(d).description, unit: r.unit, decimals: sensor.spec.precision)
                case .boolean(let b): value = .boolean(b)
                }
                byStamp[stamp, default: []].append(.init(name: name, value: value, flags: [.momentary, .automaticReadout]))
            case .failed(let e, _):
                errors.append(IoTSensorData.error(nodeID: executor.deviceName, timestamp: nowStamp, "\(name): \(e)"))
            case .unknown:
                break
            }
        }
        for output in hardware.outputs where include(output.name) {
            byStamp[nowStamp, default: []].append(.init(name: output.name, value: .boolean(output.state), flags: [.status, .writable]))
        }
        for input in hardware.inputs where include(input.name) {
            byStamp[nowStamp, default: []].append(.init(name: input.name, value: .boolean(input.value), flags: [.momentary]))
        }
        for stamp in byStamp.keys.sorted() {
            timestamps.append(IoTSensorData.timestamp(stamp, byStamp[stamp]!))
        }
        let node = IoTSensorData.node(executor.deviceName, timestamps: timestamps, errors: errors)
        return IoTSensorData.message(to: to, id: client.makeID("sd"), IoTSensorData.fields(request: .init(key: key, value: seq), done: true, node))
    }
}
