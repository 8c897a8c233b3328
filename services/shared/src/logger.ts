import { pino, type Logger as PinoLogger, type DestinationStream } from "pino";

/** Structured JSON logger (pino). Every line carries `service` and `instance`. */
export type Logger = PinoLogger;

export interface LoggerOptions {
  service: string;
  instance: string;
  level: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** Creates the root logger of one service (one per service, also in embedded mode). */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service, instance: opts.instance },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["authorization", "*.authorization", "password", "*.password", "secret", "*.secret"],
        censor: "[redacted]",
      },
      formatters: {
        level: (label) => ({ level: label }),
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
