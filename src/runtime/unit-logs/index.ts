// Units' log files, shared by the drivers that keep logs on this machine: JSON lines of
// LogLine per unit under <root>/logs/<app>/, written with rotation, read by tail and followed.
export { LineSplitter, MAX_LINE_CHARS, RotatingLogFile } from './log-writer.js';
export { followLogLines, readLogLines } from './log-reader.js';
export { OUTPUT_LIMIT_CHARS, OutputTail } from './output-tail.js';
export { LogFollows } from './log-follows.js';
