// Resolves `@keyplane/<lib>` to the compiled library in dist/ when services run from a build.
// tsc keeps the alias in import specifiers, so Node needs this one resolve hook.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./resolve-keyplane.js', pathToFileURL(new URL('.', import.meta.url).pathname));
