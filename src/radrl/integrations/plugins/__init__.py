"""Files for engines that load a reward from a file path (``python -m radrl.integrations path
ENGINE`` prints one). Each only re-exports its adapter. They live apart, under names no other
package uses, because ms-swift puts a plugin's folder at the front of ``sys.path``: a file named
``trl.py`` or ``swift.py`` there would shadow the real packages."""
