public import PerchConfig
public import PerchGPIO
import PerchGPIOD
public import PerchIO
public import PerchLog
public import PerchSensors

/// The device as the configuration declares it, opened: the GPIO backend, each output driven to its
/// initial state, each input watched, and the sensors sampled. It knows nothing of XMPP; the agent
/// connects it to the session.
///
/// A line that cannot be opened does not stop the daemon: the device stays reachable over XMPP, the
/// line is reported unavailable with the reason (``unavailable``), and the operator is told what to
/// fix in the log.
public final class Hardware {
    public private(set) var config: DeviceConfiguration
    public private(set) var backend: (any GPIOBackend)?
    public private(set) var outputs: [Output] = []
    public private(set) var inputs: [Input] = []
    public private(set) var sensors: SensorMonitor
    /// Lines that could not be opened, by output or input name, with why.
    public private(set) var unavailable: [String: GPIOError] = [:]
    /// Called on each debounced input change (after it is logged), then every ``observeInputs(_:)`` observer.
    public var onInputChange: ((Input, InputChange) -> Void)?
    /// Called with each reading the report policy lets through, then every ``observeReadings(_:)`` observer.
    public var onReading: ((Reading) -> Void)?
    private var inputObservers: [(Input, InputChange) -> Void] = []
    private var readingObservers: [(Reading) -> Void] = []
    private var outputObservers: [(Output) -> Void] = []

    /// Adds an observer of input changes; adding one never replaces another.
    public func observeInputs(_ observer: @escaping (Input, InputChange) -> Void) { inputObservers.append(observer) }
    /// Adds an observer of readings; adding one never replaces another.
    public func observeReadings(_ observer: @escaping (Reading) -> Void) { readingObservers.append(observer) }
    /// Adds an observer of every sample of a sensor (by name), read or failed, before any report policy.
    public func observeSamples(_ observer: @escaping (String) -> Void) { sampleObservers.append(observer) }
    private var sampleObservers: [(String) -> Void] = []
    /// Adds an observer of every change of an output's state (a command, the end of a pulse), of the
    /// outputs open now and of those a reload opens.
    public func observeOutputs(_ observer: @escaping (Output) -> Void) { outputObservers.append(observer) }

    private let logger: Logger
    private let loop: EventLoop
    private let openOutputs: Bool
    private var store: OutputStateStore?
    private var started = false

    /// The backend the configuration asks for.
    public static func makeBackend(_ config: DeviceConfiguration, loop: EventLoop) throws(GPIOError) -> any GPIOBackend {
        switch config.backend {
        case .libgpiod: return LibgpiodBackend(loop: loop)
        case .simulated: return try SimulatedGPIO(directory: config.simulatedDirectory, loop: loop)
        }
    }

    /// - Parameter openOutputs: false for tools that only read (`perch sensors read`): requesting an
    ///   output drives it, which a read-only command must never do.
    public init(config: DeviceConfiguration, loop: EventLoop, logger: Logger, openOutputs: Bool = true) {
        self.config = config
        self.logger = logger
        self.loop = loop
        self.openOutputs = openOutputs
        sensors = SensorMonitor(loop: loop, specs: config.sensors, reader: config.sysfsReader)
        var backend: (any GPIOBackend)?
        if config.usesGPIO && (openOutputs || !config.inputs.isEmpty) {
            backend = makeBackend(config)
        }
        self.backend = backend
        sensors.gpioState = { [weak self] name in self?.inputState(named: name) }
        guard backend != nil else { return }
        makeStore()
        outputs = openOutputs ? config.outputs.compactMap { open($0) } : []
        inputs = config.inputs.compactMap { open($0) }
    }

    private func makeBackend(_ config: DeviceConfiguration) -> (any GPIOBackend)? {
        do {
            return try Self.makeBackend(config, loop: loop)
        } catch {
            logger.error("GPIO backend \(config.backend.rawValue) cannot start: \(error)")
            for spec in config.outputs { unavailable[spec.name] = error }
            for spec in config.inputs { unavailable[spec.name] = error }
            return nil
        }
    }

    private func makeStore() {
        do { try makeDirectories(config.stateDirectory, mode: 0o700) } catch {
            logger.warning("cannot create the state directory \(config.stateDirectory) (\(error.message)); outputs declared initial = \"restore\" start off")
        }
        let store = OutputStateStore(path: "\(config.stateDirectory)/outputs.state")
        store.onError = { [logger] e in
            logger.warning("cannot save output states to \(store.path): \(e.message); initial = \"restore\" will not see the latest change")
        }
        self.store = store
    }

    /// Requests an output's line; the output is appended to ``outputs`` (nil: it is unavailable).
    private func open(_ spec: OutputSpec) -> Output? {
        guard let backend else { return nil }
        do {
            let output = try Output(spec: spec, backend: backend, loop: loop, store: store)
            output.onFailure = { [logger] e in logger.error("output \(spec.name): the end of a pulse could not restore the line: \(e)") }
            output.onChange = { [weak self] output in
                for observer in self?.outputObservers ?? [] { observer(output) }
            }
            unavailable[spec.name] = nil
            logger.info("output \(spec.name) on \(spec.line): \(output.state ? "on" : "off")\(spec.initial == .restore ? " (restored)" : "")")
            return output
        } catch {
            unavailable[spec.name] = error
            logger.error("output \(spec.name) is unavailable: \(error)")
            return nil
        }
    }

    private func open(_ spec: InputSpec) -> Input? {
        guard let backend else { return nil }
        do {
            let input = try Input(spec: spec, backend: backend, loop: loop)
            input.onChange = { [weak self] input, change in
                self?.logger.info("input \(input.name): \(input.spec.word(change.value))")
                self?.onInputChange?(input, change)
                for observer in self?.inputObservers ?? [] { observer(input, change) }
            }
            input.onFailure = { [logger] e in logger.warning("input \(spec.name) cannot be read: \(e)") }
            unavailable[spec.name] = nil
            logger.info("input \(spec.name) on \(spec.line): \(spec.word(input.value)) (\(input.debounce))")
            return input
        } catch {
            unavailable[spec.name] = error
            logger.error("input \(spec.name) is unavailable: \(error)")
            return nil
        }
    }

    /// Starts sampling the sensors.
    public func start() {
        started = true
        wire(sensors)
        sensors.start()
    }

    private func wire(_ sensors: SensorMonitor) {
        sensors.onReading = { [weak self] r in
            self?.logger.debug("sensor \(r.sensor): \(r.text)")
            self?.onReading?(r)
            for observer in self?.readingObservers ?? [] { observer(r) }
        }
        sensors.onFailure = { [logger] name, e in logger.warning("sensor \(name) cannot be read: \(e) (retrying with back-off)") }
        sensors.onRecovery = { [logger] name in logger.notice("sensor \(name) reads again") }
        sensors.onSample = { [weak self] name in
            for observer in self?.sampleObservers ?? [] { observer(name) }
        }
        sensors.gpioState = { [weak self] name in self?.inputState(named: name) }
    }

    /// Takes a new device configuration while running (a reload). Outputs and inputs whose line
    /// settings are the same keep their lines and states (and take their other settings); those in
    /// `rerequest`, and those that were unavailable, are released and requested again; removed ones
    /// are released (an output through its safe state); added ones are requested. The sensors are
    /// sampled anew when any of them changed. The backend stays what the daemon started with.
    public func reload(_ new: DeviceConfiguration, rerequest: Set<String>) {
        let old = config
        config = new
        if old.sensors != new.sensors || old.sysfsRoot != new.sysfsRoot || old.procfsRoot != new.procfsRoot || old.stateDirectory != new.stateDirectory {
            sensors.stop()
            let monitor = SensorMonitor(loop: loop, specs: new.sensors, reader: new.sysfsReader)
            sensors = monitor
            wire(monitor)
            // On the next turn: the agent takes the same configuration first, so the first samples
            // reach the alerts and rules it makes, not the ones it replaces.
            if started { loop.schedule(after: 0) { [weak self, weak monitor] in if let monitor, self?.sensors === monitor { monitor.start() } } }
        }
        unavailable = unavailable.filter { name, _ in new.outputs.contains { $0.name == name } || new.inputs.contains { $0.name == name } }
        if backend == nil, new.usesGPIO {
            backend = makeBackend(new)
            if backend != nil { makeStore() }
        }
        guard backend != nil else { return }
        // Release first: an output may move to a line another one leaves.
        var keptOutputs: [String: Output] = [:]
        for output in outputs {
            if let spec = new.outputs.first(where: { $0.name == output.name }), !rerequest.contains(spec.name),
               spec.sameLineSettings(output.spec) {
                output.update(spec)
                keptOutputs[spec.name] = output
            } else {
                if let safe = output.spec.safeState, safe != output.state { logger.info("output \(output.name): \(safe ? "on" : "off") (safe state) before its line is released") }
                // Without a safe state a pulse in progress ends first: the line is not left at the
                // pulse's level (a door strike held open).
                if output.spec.safeState == nil, output.isPulsing {
                    logger.info("output \(output.name): its pulse ends (\(output.resting ? "on" : "off")) before its line is released")
                    try? output.set(output.resting)
                }
                output.shutdown()
            }
        }
        var keptInputs: [String: Input] = [:]
        for input in inputs {
            if let spec = new.inputs.first(where: { $0.name == input.name }), !rerequest.contains(spec.name),
               spec.sameLineSettings(input.spec) {
                input.update(spec)
                keptInputs[spec.name] = input
            } else {
                input.release()
            }
        }
        outputs = openOutputs ? new.outputs.compactMap { keptOutputs[$0.name] ?? open($0) } : []
        inputs = new.inputs.compactMap { keptInputs[$0.name] ?? open($0) }
    }

    /// Applies every output's safe state, releases the lines and stops the sensors: for shutdown.
    public func shutdown() {
        sensors.stop()
        for output in outputs {
            if let safe = output.spec.safeState, safe != output.state { logger.info("output \(output.name): \(safe ? "on" : "off") (safe state)") }
            output.shutdown()
        }
        for input in inputs { input.release() }
        outputs = []
        inputs = []
    }

    public func output(named name: String) -> Output? {
        outputs.first { $0.name.lowercased() == name.lowercased() }
    }

    /// An input's last reported state, by name (nil when it is not open).
    public func inputState(named name: String) -> Bool? { input(named: name)?.value }

    public func input(named name: String) -> Input? {
        inputs.first { $0.name.lowercased() == name.lowercased() }
    }
}
