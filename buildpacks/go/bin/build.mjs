// Started by bin/build, which says why it is a shell script: the build's entry in main.mjs.
import { main } from './main.mjs';

await main('build');
